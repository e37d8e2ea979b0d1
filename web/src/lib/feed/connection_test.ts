import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { FeedConnection, WARM_UP_MS } from "./connection.ts";
import {
  decodeClientMessage,
  encodeDelta,
  encodeSnapshot,
  encodeSubscribed,
} from "@pulseboard/protocol";
import type { MetricStates, ViewRequest } from "@pulseboard/protocol";

/** Just enough of a WebSocket for the connection: frames are pushed in by the test. */
class FakeSocket {
  static last: FakeSocket | null = null;
  binaryType = "blob";
  readyState = 1;
  sent: Uint8Array[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.last = this;
  }
  send(data: Uint8Array) {
    this.sent.push(data);
  }
  close() {
    this.readyState = 3;
  }
  deliver(bytes: Uint8Array<ArrayBuffer>) {
    this.onmessage?.({
      data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
    });
  }
}

const none: MetricStates = {
  length: 0,
  sensor: new Uint32Array(0),
  metric: new Uint16Array(0),
  last: new Float64Array(0),
  avg: new Float64Array(0),
  min: new Float64Array(0),
  max: new Float64Array(0),
  timeMs: new Float64Array(0),
};

function subscribe(socket: FakeSocket, epoch: number, topic = "all") {
  socket.deliver(encodeSubscribed({ topic, ids: [1], epoch, seq: 3, recovered: false }));
  socket.deliver(encodeSnapshot({
    epoch,
    seq: 3,
    serverTimeMs: 0,
    sensors: [{ index: 0, id: "s", group: "g" }],
    metrics: [{ index: 0, name: "t" }],
    values: none,
  }));
}

Deno.test("a Subscribed the client did not ask for (the server rebuilt its state) is shown as resynced; an answer is not", () => {
  let now = 1_000;
  const connection = new FeedConnection("ws://feed.test/ws", {
    WebSocket: FakeSocket as unknown as typeof WebSocket,
    schedule: () => {},
    now: () => now,
  });
  connection.start();
  const socket = FakeSocket.last!;
  socket.onopen?.();
  subscribe(socket, 9);
  assertEquals([connection.notice, connection.store.epoch], ["", 9]);
  // Another group is another topic with its own epoch: asked for, so nothing to announce.
  now = 2_000;
  connection.setSubscriptions([{ id: 2, group: "plant-a" }]);
  subscribe(socket, 4, "plant-a");
  assertEquals([connection.notice, connection.store.epoch], ["", 4]);
  // Unasked: the server started a new epoch (e.g. MongoDB history lost), continuity lost.
  now = 3_000;
  subscribe(socket, 5, "plant-a");
  assertEquals([connection.notice, connection.noticeAt, connection.store.epoch], [
    "resynced",
    3_000,
    5,
  ]);
  connection.stop();
});

Deno.test("a lost connection says why in words, when data was last had and when it retries; retry now connects at once", () => {
  let now = 1_000;
  const connection = new FeedConnection("ws://feed.test/ws", {
    WebSocket: FakeSocket as unknown as typeof WebSocket,
    schedule: () => {},
    now: () => now,
  });
  connection.setSubscriptions([{ id: 1, all: true }]);
  connection.start();
  const first = FakeSocket.last!;
  first.onopen?.();
  subscribe(first, 9);
  assertEquals([connection.state, connection.lastDataAt, connection.reason], ["live", 1_000, ""]);
  now = 5_000;
  first.onclose?.({ code: 1006, reason: "" });
  assertEquals(connection.state, "reconnecting");
  assertEquals(connection.lastDataAt, 1_000, "the data is as of the last frame");
  assertEquals(
    connection.reason,
    "The server cannot be reached (it may be down, restarting, or the network is out).",
  );
  assert(connection.nextRetryAt > 5_000, `next attempt at ${connection.nextRetryAt}`);
  connection.retryNow();
  assertEquals([FakeSocket.last !== first, connection.nextRetryAt], [true, 0]);
  connection.stop();
});

function assert(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

Deno.test("frames in the first 2 s of a connection are not timed (the page starting is not its pace); later ones are, from arrival to after the render", async () => {
  let clock = 0;
  const macrotask = () => new Promise((resolve) => setTimeout(resolve, 0));
  const connection = new FeedConnection("ws://feed.test/ws", {
    WebSocket: FakeSocket as unknown as typeof WebSocket,
    schedule: (render) => render(),
    clock: () => clock,
    now: () => 1_000_000 + clock,
  });
  const delta = (seq: number) =>
    encodeDelta({
      epoch: 9,
      seq,
      serverTimeMs: 0,
      sensors: [],
      metrics: [],
      updates: none,
      removed: [],
    });
  connection.start();
  let socket = FakeSocket.last!;
  socket.onopen?.();
  subscribe(socket, 9); // the first frames, at 0
  clock = 300;
  await macrotask();
  clock = 1_500;
  socket.deliver(delta(4));
  clock = 1_900;
  await macrotask();
  assertEquals(connection.frameTimes.take(), { p95: 0, count: 0 });
  clock = WARM_UP_MS + 500;
  socket.deliver(delta(5));
  clock += 40;
  await macrotask();
  assertEquals(connection.frameTimes.take(), { p95: 40, count: 1 });
  // A new connection (here after a stop) starts over: its snapshot is not timed either.
  connection.stop();
  clock = 10_000;
  connection.start();
  socket = FakeSocket.last!;
  socket.onopen?.();
  subscribe(socket, 9);
  clock += 700;
  await macrotask();
  assertEquals(connection.frameTimes.take(), { p95: 0, count: 0 });
  connection.stop();
});

Deno.test("a window moved to another group forgets the old group's attention counts; a scroll keeps them", () => {
  const connection = new FeedConnection("ws://feed.test/ws", {
    WebSocket: FakeSocket as unknown as typeof WebSocket,
    schedule: () => {},
  });
  const spec = { offset: 0, limit: 50, subscriptions: [{ id: 1, group: "plant-a" }] };
  connection.setView(spec);
  connection.window.attentionCounts = [0, 10, 0, 0, 1, 2];
  connection.setView({ ...spec, offset: 100 });
  assertEquals(connection.window.attentionCounts, [0, 10, 0, 0, 1, 2]);
  connection.setView({ ...spec, subscriptions: [{ id: 1, group: "plant-b" }] });
  assertEquals(connection.window.attentionCounts, null);
  connection.stop();
});

/**
 * An open connection whose timers run only when the test calls `runTimers`,
 * at the clock the test sets (`clock.now`); `views()` are the ViewSubscribes sent.
 */
function pacedConnection(
  body: (o: {
    connection: FeedConnection;
    clock: { now: number };
    runTimers: () => void;
    views: () => ViewRequest[];
  }) => void,
): void {
  const clock = { now: 10_000 };
  const timers: (() => void)[] = [];
  const realSetTimeout = globalThis.setTimeout;
  const realClearTimeout = globalThis.clearTimeout;
  globalThis.setTimeout = ((fn: () => void) => timers.push(fn)) as unknown as typeof setTimeout;
  globalThis.clearTimeout = ((id: number) => {
    if (id) timers[id - 1] = () => {};
  }) as unknown as typeof clearTimeout;
  const connection = new FeedConnection("ws://feed.test/ws", {
    WebSocket: FakeSocket as unknown as typeof WebSocket,
    schedule: () => {},
    now: () => clock.now,
    viewGapMs: 250,
  });
  try {
    connection.start();
    const socket = FakeSocket.last!;
    socket.onopen?.();
    body({
      connection,
      clock,
      // A timer cleared before it ran stays in the list as a no-op.
      runTimers: () => {
        const due = timers.slice();
        timers.fill(() => {});
        for (const run of due) run();
      },
      views: () =>
        socket.sent.map((bytes) => decodeClientMessage(bytes)).flatMap((m) =>
          m.type === "view" ? [m.request] : []
        ),
    });
  } finally {
    connection.stop();
    globalThis.setTimeout = realSetTimeout;
    globalThis.clearTimeout = realClearTimeout;
  }
}

Deno.test("the pointer entering the rows sends a hold at once with the newest window, though the last request was moments ago; a release waits the gap", () => {
  pacedConnection(({ connection, clock, runTimers, views }) => {
    const spec = { offset: 0, limit: 50, subscriptions: [{ id: 1, group: "" }] };
    connection.setView(spec);
    assertEquals(views().length, 1);
    clock.now += 50;
    connection.setView({ ...spec, offset: 20 }); // within the gap: waits
    assertEquals(views().length, 1);
    connection.holdRows(true); // goes now, with the scroll that waited
    assertEquals(views().map((v) => [v.offset, v.order]), [[0, "keep"], [20, "hold"]]);
    runTimers(); // the scroll's timer was cancelled
    assertEquals(views().length, 2);
    clock.now += 50;
    connection.holdRows(false);
    assertEquals(views().length, 2);
    clock.now += 250;
    runTimers();
    assertEquals(views().map((v) => v.order), ["keep", "hold", "release"]);
  });
});

Deno.test("a resort sent while the pointer is on the rows (it releases the server's hold) is followed by the hold again", () => {
  pacedConnection(({ connection, clock, runTimers, views }) => {
    const spec = { offset: 0, limit: 50, subscriptions: [{ id: 1, group: "" }] };
    connection.setView(spec);
    connection.holdRows(true);
    clock.now += 100;
    connection.setView(spec, { resort: true });
    clock.now += 250;
    runTimers();
    clock.now += 250;
    runTimers();
    assertEquals(views().map((v) => v.order), ["keep", "hold", "resort", "hold"]);
  });
});

Deno.test("the answer to unsubscribing the last topic (a Subscribed to what is left) is not shown as resynced; an unasked one after it is", () => {
  let now = 1_000;
  const connection = new FeedConnection("ws://feed.test/ws", {
    WebSocket: FakeSocket as unknown as typeof WebSocket,
    schedule: () => {},
    now: () => now,
  });
  connection.setSubscriptions([{ id: 2, sensors: ["s"] }]);
  connection.start();
  const socket = FakeSocket.last!;
  socket.onopen?.();
  subscribe(socket, 9, "groups=;sensors=s");
  assertEquals(connection.notice, "");
  now = 2_000;
  connection.setSubscriptions([]); // the detail panel closed
  const sent = decodeClientMessage(socket.sent.at(-1)!);
  assertEquals(sent.type, "unsubscribe");
  socket.deliver(
    encodeSubscribed({ topic: "groups=;sensors=", ids: [], epoch: 4, seq: 0, recovered: false }),
  );
  assertEquals(connection.notice, "");
  now = 3_000;
  socket.deliver(
    encodeSubscribed({ topic: "groups=;sensors=", ids: [], epoch: 5, seq: 0, recovered: false }),
  );
  assertEquals([connection.notice, connection.noticeAt], ["resynced", 3_000]);
  connection.stop();
});
