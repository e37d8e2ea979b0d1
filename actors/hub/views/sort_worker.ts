import type { OrderSorter } from "./order_sorter.ts";

/** A job and its answer: the buffers go to the worker and come back (transferred, not copied). */
export interface SortJobMessage {
  token: number;
  values: ArrayBuffer;
  valueCount: number;
  items: ArrayBuffer;
  itemCount: number;
  /** Filled by the worker: the descending order. */
  desc: ArrayBuffer;
}

interface Buffers {
  values: ArrayBuffer;
  items: ArrayBuffer;
  desc: ArrayBuffer;
}

/** Jobs in flight at most: one per shared order due is plenty (the schedule starts about one a tick). */
const MAX_IN_FLIGHT = 4;

/**
 * An `OrderSorter` on a worker thread (the machine's second core): a whole
 * radix sort of 100,000 keys is 2–6 ms, taken out of the hub's tick. The
 * keys and ids go over as transferred buffers, kept in a small pool and
 * reused, so nothing is allocated per job once warm. Any worker error marks
 * it failed (the table then sorts in the tick) rather than reaching the hub.
 */
export class SortWorker implements OrderSorter {
  readonly #worker: Worker;
  readonly #free: Buffers[] = [];
  readonly #done: SortJobMessage[] = [];
  #inFlight = 0;
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
    worker.onmessage = (event: MessageEvent<SortJobMessage>) => {
      // Only queued here: the table adopts it in its next tick (only messages reach the hub's state).
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
    return this.#inFlight;
  }

  start(token: number, job: { values: Float64Array; ids: Uint32Array }): boolean {
    if (this.#failed || this.#closed || this.#inFlight >= MAX_IN_FLIGHT) return false;
    const valueCount = job.values.length, itemCount = job.ids.length;
    const buffers = this.#buffers(valueCount, itemCount);
    new Float64Array(buffers.values, 0, valueCount).set(job.values);
    new Uint32Array(buffers.items, 0, itemCount).set(job.ids);
    const message: SortJobMessage = { token, ...buffers, valueCount, itemCount };
    try {
      this.#worker.postMessage(message, [buffers.values, buffers.items, buffers.desc]);
    } catch {
      this.#fail();
      return false;
    }
    this.#inFlight++;
    return true;
  }

  take(each: (token: number, asc: Uint32Array, desc: Uint32Array) => void): void {
    while (this.#done.length > 0) {
      const job = this.#done.shift()!;
      this.#inFlight--;
      try {
        const n = job.itemCount;
        each(job.token, new Uint32Array(job.items, 0, n), new Uint32Array(job.desc, 0, n));
      } finally {
        this.#free.push({ values: job.values, items: job.items, desc: job.desc });
      }
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#done.length = 0;
    this.#free.length = 0;
    this.#worker.terminate();
  }

  #fail(): void {
    this.#failed = true;
    this.#inFlight = 0;
    this.close();
  }

  /** Buffers from the pool big enough for the job, or new ones (doubling, so a growing fleet reallocates rarely). */
  #buffers(valueCount: number, itemCount: number): Buffers {
    const b = this.#free.pop() ??
      { values: new ArrayBuffer(0), items: new ArrayBuffer(0), desc: new ArrayBuffer(0) };
    if (b.values.byteLength < 8 * valueCount) {
      b.values = new ArrayBuffer(8 * Math.max(valueCount, b.values.byteLength / 4, 1024));
    }
    if (b.items.byteLength < 4 * itemCount) {
      const size = 4 * Math.max(itemCount, b.items.byteLength / 2, 1024);
      b.items = new ArrayBuffer(size);
      b.desc = new ArrayBuffer(size);
    }
    return b;
  }
}
