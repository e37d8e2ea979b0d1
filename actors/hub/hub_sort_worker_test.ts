// The hub's views with their shared orders sorted off the tick by the real
// sort worker: clients' rows follow the worker's orders, and the hub stops
// the worker when it shuts down.
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { ViewState } from "../../tests/testing/view_client.ts";
import { Hub } from "./hub_actor.ts";
import type { FrameSink } from "./session.ts";
import { ShardSet } from "../shards/shard_set.ts";
import { DEFAULT_WINDOW_SPEC } from "../shards/event_window_store.ts";
import { blockFromReadings } from "../../protocol/reading_block.ts";
import type { OrderSorter } from "./views/order_sorter.ts";
import { SortWorker } from "./views/sort_worker.ts";

class WindowSink implements FrameSink {
  bufferedAmount = 0;
  closed = false;
  heardAt = 0;
  readonly view = new ViewState();
  send(frame: Uint8Array) {
    this.view.apply(frame);
  }
  close() {
    this.closed = true;
  }
}

/** The real worker, counting its jobs and whether it was closed. */
class CountedWorker implements OrderSorter {
  started = 0;
  closed = false;
  constructor(readonly worker: SortWorker) {}
  get failed() {
    return this.worker.failed;
  }
  get inFlight() {
    return this.worker.inFlight;
  }
  start(token: number, job: { values: Float64Array; ids: Uint32Array }): boolean {
    const ok = this.worker.start(token, job);
    if (ok) this.started++;
    return ok;
  }
  take(each: Parameters<OrderSorter["take"]>[0]): void {
    this.worker.take(each);
  }
  close(): void {
    this.closed = true;
    this.worker.close();
  }
}

Deno.test("a hub's views take their shared orders from the sort worker, clients see those orders, and the hub's shutdown stops the worker", async () => {
  // Started and answering before the hub asks (under `deno test` the worker's
  // modules are type-checked when it starts: longer than the table's patience).
  const ready = SortWorker.start();
  assert(ready !== null, "a worker starts here");
  await answered(ready);
  const shards = ShardSet.create({ count: 2, window: 5, windowSpec: DEFAULT_WINDOW_SPEC });
  let now = 1_767_225_600_000;
  const workers: CountedWorker[] = [];
  const hub = new Hub(shards, {
    pingIntervalMs: 1e9,
    now: () => now,
    views: {
      staggerMs: 0,
      offThreadMin: 0,
      sorter: () => {
        workers.push(new CountedWorker(ready));
        return workers.at(-1)!;
      },
    },
  });
  let time = now;
  const feed = (t: (i: number) => number) =>
    shards.deliver(blockFromReadings(
      Array.from({ length: 40 }, (_, i) => ({
        sensorId: `s${i}`,
        group: "g",
        timeMs: time++,
        values: { t: t(i) },
      })),
    ));
  const tick = async () => {
    now += 100;
    await hub.tick();
    // A turn for the worker's answer, as between the hub's real ticks.
    await new Promise((resolve) => setTimeout(resolve, 5));
  };
  try {
    await feed((i) => i);
    await tick();
    const sink = new WindowSink();
    await hub.send({ type: "join", sink, explicit: true });
    await hub.send({
      type: "view",
      sink,
      request: {
        subscriptions: [],
        sort: { key: "metric", metric: "t", field: "last", direction: "desc" },
        filter: { idSubstring: "", groupPrefix: null, status: null },
        offset: 0,
        limit: 10,
        order: "keep",
        resume: null,
        hiddenMetrics: [],
      },
    });
    await hub.barrier();
    await tick();
    assertEquals(sink.view.ids().slice(0, 3), ["s39", "s38", "s37"]);
    // The values turn around: the view's order follows within its second, sorted by the worker.
    await feed((i) => -i);
    const expected = Array.from({ length: 10 }, (_, i) => `s${i}`);
    const top = () => sink.view.ids().slice(0, 10);
    for (let t = 0; t < 60 && top().join() !== expected.join(); t++) await tick();
    assertEquals(top(), expected);
    assertEquals(workers.length, 1);
    assert(workers[0].started >= 1, "sorted off the tick");
    assert(!workers[0].closed);
    await hub.shutdown(1001);
    assert(workers[0].closed, "the hub's shutdown stops its views' sort worker");
  } finally {
    await hub.stop();
    await shards.stop();
    ready.close();
  }
});

/** Waits (real time) until the worker has sorted a first small job. */
async function answered(worker: SortWorker): Promise<void> {
  assert(worker.start(0, { values: new Float64Array([2, 1]), ids: new Uint32Array([0, 1]) }));
  const deadline = Date.now() + 30_000;
  let done = false;
  while (!done && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    worker.take(() => {
      done = true;
      return null;
    });
  }
  assert(done, "the worker answered its first job");
}
