import { assertEquals } from "../../tests/testing/assert.ts";
import { cursorAt, DEFAULT_SESSION_POLICY, Session, sessionPolicy } from "./session.ts";
import type { FrameSink, StreamCursor } from "./session.ts";

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

/** Runs one tick of a session with one stream: the tick's sample, then the frame if due. */
function step(
  session: Session,
  cursor: StreamCursor,
  o: { tickNo: number; now: number; frame: Uint8Array | null },
): boolean {
  if (!session.tick(o.now)) return false;
  if (!session.due(o.tickNo)) return true;
  return session.offer(cursor, o.frame, { tickNo: o.tickNo, snapshot: () => snapshot });
}

Deno.test("a session over the skip cap skips frames, goes to the slowest rate, and once drained gets a snapshot instead of stale frames", () => {
  const sink = new FakeSink();
  const session = new Session(sink, { maxBufferedBytes: 100, slowCloseMs: 10_000 });
  const cursor = cursorAt(0);
  step(session, cursor, { tickNo: 1, now: 100, frame: delta(1) });
  sink.bufferedAmount = 500;
  step(session, cursor, { tickNo: 2, now: 200, frame: delta(2) });
  assertEquals(session.rate.period, 10, "straight to 1 Hz");
  for (let t = 3; t <= 10; t++) step(session, cursor, { tickNo: t, now: t * 100, frame: delta(t) });
  sink.bufferedAmount = 0;
  // Drained at tick 11: nothing until the slowest rate is due again (tick 20), then the snapshot.
  for (let t = 11; t <= 20; t++) {
    step(session, cursor, { tickNo: t, now: t * 100, frame: delta(t) });
  }
  step(session, cursor, { tickNo: 30, now: 3000, frame: delta(30) });
  assertEquals(sink.sent.map((f) => f[0]), [1, 255, 30]);
  // Tick 2 was not due any more (1 Hz); tick 10 was, and was skipped.
  assertEquals([session.skipped, session.resyncs], [1, 1]);
  assertEquals(cursor.sentAt, 30);
});

Deno.test("a session over the cap for longer than the limit is closed with 4008", () => {
  const sink = new FakeSink();
  const session = new Session(sink, { maxBufferedBytes: 100, slowCloseMs: 1_000 });
  const cursor = cursorAt(0);
  sink.bufferedAmount = 1_000;
  assertEquals(step(session, cursor, { tickNo: 10, now: 0, frame: delta(1) }), true);
  assertEquals(step(session, cursor, { tickNo: 19, now: 999, frame: delta(2) }), true);
  assertEquals(step(session, cursor, { tickNo: 20, now: 1_000, frame: delta(3) }), false);
  assertEquals(sink.closedWith?.[0], 4008);
  assertEquals(sink.sent.length, 0);
});

Deno.test("unsent bytes that stay over the step-down threshold move the rate down a step at a time; clean for 5 s, back up a step at a time", () => {
  const sink = new FakeSink();
  const session = new Session(sink, { maxBufferedBytes: 1_000, stepDownBytes: 100 });
  const periods: number[] = [];
  let now = 0;
  const ticks = (n: number, buffered: number) => {
    sink.bufferedAmount = buffered;
    for (let i = 0; i < n; i++) {
      now += 100;
      session.tick(now);
      periods.push(session.rate.period);
    }
  };
  ticks(2, 500); // two ticks over: not yet
  ticks(1, 500); // the third: a step down
  ticks(2, 50); // under again: the count starts over
  ticks(3, 500);
  ticks(3, 500);
  ticks(3, 500); // at the slowest, it stays there
  assertEquals(periods, [1, 1, 2, 2, 2, 2, 2, 5, 5, 5, 10, 10, 10, 10]);
  assertEquals(sink.sent.length, 0, "nothing skipped: the cap was never reached");
  periods.length = 0;
  ticks(49, 10); // clean, but not for 5 s yet
  ticks(1, 10);
  ticks(50, 10);
  ticks(50, 10);
  assertEquals([periods[48], periods[49], periods[99], periods[149]], [10, 5, 2, 1]);
  assertEquals([session.rate.stepsDown, session.rate.stepsUp], [3, 3]);
});

Deno.test("a client that reports frames over its budget is moved down; a fast one back up after 5 s clean", () => {
  const session = new Session(new FakeSink(), {}, { tickMs: 100 });
  session.report(40, 0); // within half of 100 ms
  assertEquals(session.rate.period, 1);
  session.report(80, 100);
  assertEquals(session.rate.period, 2);
  session.report(80, 200); // within half of 200 ms
  assertEquals(session.rate.period, 2);
  for (let now = 300; now < 5_200; now += 100) session.tick(now);
  assertEquals(session.rate.period, 2, "80 ms frames would not fit 10 Hz: it stays");
  session.report(10, 5_200);
  for (let now = 5_300; now <= 10_300; now += 100) session.tick(now);
  assertEquals(session.rate.period, 1);
});

Deno.test("a client that claims fast frames while its unsent bytes stay high is moved down all the same, and not back up", () => {
  const sink = new FakeSink();
  const session = new Session(sink, { maxBufferedBytes: 1_000, stepDownBytes: 100 });
  let now = 0;
  sink.bufferedAmount = 500;
  for (let i = 0; i < 60; i++) {
    now += 100;
    session.report(0, now); // "my frames take no time"
    session.tick(now);
  }
  assertEquals(session.rate.period, 10, "down to 1 Hz by its unsent bytes alone");
  assertEquals(session.rate.stepsUp, 0, "the reports lift nothing while the bytes stay high");
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
  assertEquals(step(session, cursorAt(0), { tickNo: 1, now: 0, frame: delta(1) }), false);
  assertEquals(session.closed, true);
});

Deno.test("sessions made with one policy object share one resolved policy: the defaults under it, the step down a quarter of the cap unless given", () => {
  const policy = { maxBufferedBytes: 4_000, silenceLimitMs: 7 };
  const resolved = sessionPolicy(policy);
  assertEquals(sessionPolicy(policy) === resolved, true);
  assertEquals(resolved, {
    stepDownTicks: DEFAULT_SESSION_POLICY.stepDownTicks,
    frameBudget: DEFAULT_SESSION_POLICY.frameBudget,
    stepUpMs: DEFAULT_SESSION_POLICY.stepUpMs,
    slowCloseMs: DEFAULT_SESSION_POLICY.slowCloseMs,
    maxBufferedBytes: 4_000,
    silenceLimitMs: 7,
    stepDownBytes: 1_000,
  });
  assertEquals(sessionPolicy({ maxBufferedBytes: 4_000, stepDownBytes: 10 }).stepDownBytes, 10);
  assertEquals(sessionPolicy().stepDownBytes, DEFAULT_SESSION_POLICY.maxBufferedBytes / 4);
  // Shared, so nobody may change it.
  assertEquals(Object.isFrozen(resolved), true);
  // Sessions on it behave by it: 1,001 unsent bytes for three ticks step the rate down.
  const [a, b] = [new FakeSink(), new FakeSink()];
  const sessions = [new Session(a, policy), new Session(b, policy)];
  a.bufferedAmount = 1_001;
  for (let t = 1; t <= 3; t++) for (const s of sessions) s.tick(t);
  assertEquals(sessions.map((s) => s.rate.level), [1, 0]);
});
