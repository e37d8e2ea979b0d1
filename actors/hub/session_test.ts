import { assertEquals } from "../../tests/testing/assert.ts";
import { Session } from "./session.ts";
import type { FrameSink } from "./session.ts";

class FakeSink implements FrameSink {
  bufferedAmount = 0;
  sent: Uint8Array[] = [];
  closedWith: [number, string] | null = null;
  failSends = false;
  /** The socket side records what it hears. */
  heardAt = 0;
  get closed(): boolean {
    return this.closedWith !== null;
  }
  send(frame: Uint8Array): void {
    if (this.failSends) throw new Error("socket gone");
    this.sent.push(frame);
  }
  close(code: number, reason: string): void {
    this.closedWith = [code, reason];
  }
}

const delta = (n: number) => new Uint8Array([n]);
const snapshot = new Uint8Array([255]);

Deno.test("a slow session skips deltas while over the cap, then gets a snapshot instead of stale frames", () => {
  const sink = new FakeSink();
  const session = new Session(sink, { maxBufferedBytes: 100, slowCloseMs: 10_000 });
  session.deliver(delta(1), 0, () => snapshot);
  sink.bufferedAmount = 500;
  session.deliver(delta(2), 100, () => snapshot);
  session.deliver(delta(3), 200, () => snapshot);
  sink.bufferedAmount = 0;
  session.deliver(delta(4), 300, () => snapshot);
  session.deliver(delta(5), 400, () => snapshot);
  assertEquals(sink.sent.map((f) => f[0]), [1, 255, 5]);
  assertEquals([session.skipped, session.resyncs], [2, 1]);
});

Deno.test("a session over the cap for longer than the limit is closed with 4008", () => {
  const sink = new FakeSink();
  const session = new Session(sink, { maxBufferedBytes: 100, slowCloseMs: 1_000 });
  sink.bufferedAmount = 1_000;
  assertEquals(session.deliver(delta(1), 0, () => snapshot), true);
  assertEquals(session.deliver(delta(2), 999, () => snapshot), true);
  assertEquals(session.deliver(delta(3), 1_000, () => snapshot), false);
  assertEquals(sink.closedWith?.[0], 4008);
  assertEquals(sink.sent.length, 0);
});

Deno.test("a silent session is closed with 4001 when pinged after the silence limit", () => {
  const sink = new FakeSink();
  const session = new Session(sink, { silenceLimitMs: 1_000 });
  const ping = new Uint8Array([9]);
  assertEquals(session.ping(ping, 500), true);
  sink.heardAt = 900; // the socket side heard a Pong
  assertEquals(session.ping(ping, 1_800), true);
  assertEquals(session.ping(ping, 2_000), false);
  assertEquals(sink.closedWith?.[0], 4001);
  assertEquals(sink.sent.length, 2);
});

Deno.test("a sink that throws marks the session closed so the hub forgets it", () => {
  const sink = new FakeSink();
  const session = new Session(sink);
  sink.failSends = true;
  assertEquals(session.deliver(delta(1), 0, () => snapshot), false);
  assertEquals(session.closed, true);
});
