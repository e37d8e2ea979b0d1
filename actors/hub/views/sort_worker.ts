import type { OrderSorter, SortedOrder } from "./order_sorter.ts";

/** A job as the worker gets it: shared buffers (not copied nor transferred) and how much of each is used. */
export interface SortJobMessage {
  token: number;
  values: SharedArrayBuffer;
  valueCount: number;
  items: SharedArrayBuffer;
  itemCount: number;
  /** Written by the worker: the ascending order, and the descending one. */
  asc: SharedArrayBuffer;
  desc: SharedArrayBuffer;
}

/** One job's arrays, all on shared memory. */
interface JobArrays {
  values: Float64Array;
  items: Uint32Array;
  asc: Uint32Array;
  desc: Uint32Array;
}

/** Jobs in flight at most: one per shared order due is plenty (the schedule starts about one a tick). */
const MAX_IN_FLIGHT = 4;

/**
 * An `OrderSorter` on a worker thread (the machine's second core): a whole
 * radix sort of 100,000 keys is 2–6 ms, taken out of the hub's tick. The
 * keys and ids are copied into shared memory (about a millisecond's tenth
 * for 100,000), the worker writes both orders into shared arrays that the
 * table then keeps, giving back its old ones for later jobs: nothing is
 * copied back and nothing allocated per job once warm. Any worker error
 * marks it failed (the table then sorts in the tick) rather than reaching
 * the hub.
 */
export class SortWorker implements OrderSorter {
  readonly #worker: Worker;
  readonly #free: JobArrays[] = [];
  readonly #busy = new Map<number, { arrays: JobArrays; length: number }>();
  readonly #done: number[] = [];
  /** Jobs started in this tick, posted once it is over (see `start`). */
  #outbox: SortJobMessage[] = [];
  #failed = false;
  #closed = false;

  /**
   * A started worker, or null when this runtime cannot start one (the table
   * sorts in the tick). `entry` is the worker's script (tests give a broken one).
   */
  static start(entry = new URL("./sort_worker_entry.ts", import.meta.url)): SortWorker | null {
    try {
      return new SortWorker(new Worker(entry.href, { type: "module" }));
    } catch {
      return null;
    }
  }

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.onmessage = (event: MessageEvent<number>) => {
      // Only noted here: the table takes it in its next tick (only messages reach the hub's state).
      if (!this.#closed) this.#done.push(event.data);
    };
    const fail = (event: Event) => {
      event.preventDefault(); // a worker's error must not take the hub down
      this.#fail();
    };
    worker.onerror = fail;
    worker.onmessageerror = fail;
  }

  get failed(): boolean {
    return this.#failed;
  }

  get inFlight(): number {
    return this.#busy.size;
  }

  start(token: number, job: { values: Float64Array; ids: Uint32Array }): boolean {
    if (this.#failed || this.#closed || this.#busy.size >= MAX_IN_FLIGHT) return false;
    const valueCount = job.values.length, itemCount = job.ids.length;
    const arrays = this.#arrays(valueCount, itemCount);
    arrays.values.set(job.values);
    arrays.items.set(job.ids);
    const message: SortJobMessage = {
      token,
      values: arrays.values.buffer as SharedArrayBuffer,
      valueCount,
      items: arrays.items.buffer as SharedArrayBuffer,
      itemCount,
      asc: arrays.asc.buffer as SharedArrayBuffer,
      desc: arrays.desc.buffer as SharedArrayBuffer,
    };
    this.#busy.set(token, { arrays, length: itemCount });
    // Posted after the tick (a microtask: once its synchronous work is done),
    // not in it: posting wakes the worker, and on a busy machine the kernel
    // may hand the worker this thread's core at once, so the tick waited out
    // a slice of the worker's sort (posts took 0.07 ms at the median and
    // 2-3 ms in one of ten at load 10 with the worker busy; about 2.4 ms a
    // tick on average in bench/view_order.ts section 5).
    if (this.#outbox.push(message) === 1) queueMicrotask(() => this.#post());
    return true;
  }

  #post(): void {
    const messages = this.#outbox;
    this.#outbox = [];
    for (const message of messages) {
      if (this.#closed) return;
      try {
        this.#worker.postMessage(message);
      } catch {
        this.#fail();
      }
    }
  }

  take(
    each: (token: number, order: SortedOrder) => { asc: Uint32Array; desc: Uint32Array } | null,
  ): void {
    while (this.#done.length > 0) {
      const token = this.#done.shift()!;
      const job = this.#busy.get(token);
      if (job === undefined) continue;
      this.#busy.delete(token);
      const { arrays, length } = job;
      const given = each(token, { asc: arrays.asc, desc: arrays.desc, length });
      if (given !== null) {
        // Kept by the table; arrays of its own (plain ones from sorts in the tick) are not shared memory.
        arrays.asc = shared(given.asc) ? given.asc : new Uint32Array(0);
        arrays.desc = shared(given.desc) ? given.desc : new Uint32Array(0);
      }
      this.#free.push(arrays);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#done.length = 0;
    this.#outbox = [];
    this.#free.length = 0;
    this.#busy.clear();
    this.#worker.terminate();
  }

  #fail(): void {
    this.#failed = true;
    this.close();
  }

  /** Arrays from the pool (whole: a job uses their start), grown to the job (doubling, so a growing fleet reallocates rarely). */
  #arrays(valueCount: number, itemCount: number): JobArrays {
    const a = this.#free.pop() ?? {
      values: new Float64Array(0),
      items: new Uint32Array(0),
      asc: new Uint32Array(0),
      desc: new Uint32Array(0),
    };
    if (a.values.length < valueCount) a.values = sharedFloats(grown(a.values.length, valueCount));
    if (a.items.length < itemCount) a.items = sharedIndexes(grown(a.items.length, itemCount));
    if (a.asc.length < itemCount) a.asc = sharedIndexes(grown(a.asc.length, itemCount));
    if (a.desc.length < itemCount) a.desc = sharedIndexes(grown(a.desc.length, itemCount));
    return a;
  }
}

function grown(length: number, needed: number): number {
  return Math.max(needed, 2 * length, 1024);
}

function sharedFloats(n: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(8 * n));
}

function sharedIndexes(n: number): Uint32Array {
  return new Uint32Array(new SharedArrayBuffer(4 * n));
}

function shared(array: Uint32Array): boolean {
  return array.buffer instanceof SharedArrayBuffer && array.byteOffset === 0;
}
