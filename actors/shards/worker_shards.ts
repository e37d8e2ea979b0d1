import { Supervisor } from "../runtime/mod.ts";
import type { FailureReport } from "../runtime/mod.ts";
import type { HeldWindow } from "./event_window_store.ts";
import { packRows } from "./routed_rows.ts";
import type { RoutedRows } from "./routed_rows.ts";
import type { ShardImage } from "./shard_image.ts";
import type { ShardChanges } from "./shard_messages.ts";
import type { ShardHealth, ShardHosts, ShardHostsOptions } from "./shard_hosts.ts";
import type { FromWorker, ToWorker } from "./worker_protocol.ts";

const WORKER_URL = new URL("./shard_worker.ts", import.meta.url).href;

interface Pending {
  resolve: (value: unknown) => void;
  /** What a request resolves with if the worker dies or does not answer in time. */
  fallback: unknown;
  timer: ReturnType<typeof setTimeout>;
}

/** One worker thread and what the shard set knows of it. */
interface Slot {
  worker: Worker;
  /** Shards it hosts, ascending. */
  shards: number[];
  /** `rows` messages posted and not yet acknowledged. */
  inFlight: number;
  /** Rows of those messages, in the order posted: a message of many chunks weighs its rows. */
  inFlightRows: number;
  sizes: number[];
  waiting: (() => void)[];
  pending: Map<number, Pending>;
  /**
   * A flush whose asker stopped waiting: the worker has cleared the changes
   * it hands over, so its answer, when it comes, is the next flush's (no
   * new flush is asked meanwhile, so none is lost and the order holds).
   */
  lateFlush: Promise<unknown> | null;
}

/**
 * The shards on `workers` worker threads (module workers): shard `s` lives
 * on worker `s % workers`. Each worker gets one message per read batch with its
 * shards' rows (the buffer transferred, not copied) and at most `capacity`
 * such messages, or `capacity` × 1,024 rows, wait per worker (backpressure
 * up to the source, and a flush never queues behind more than that). Answers
 * come back with their buffers transferred. A shard that throws is replaced
 * in its worker by an empty one; a worker that dies is replaced by a fresh
 * one whose shards start empty. Either way each shard's supervisor decides
 * (one-for-one, at most `maxRestarts` a minute) and, when restarted, the
 * shard waits for its restore and replay like a shard in this isolate.
 */
export class WorkerShards implements ShardHosts {
  readonly hosts: number;
  readonly #options: ShardHostsOptions;
  readonly #capacity: number;
  readonly #slots: Slot[] = [];
  readonly #supervisors: Supervisor[];
  readonly #restarts: number[];
  readonly #failed: boolean[];
  #nextId = 1;
  #stopped = false;

  constructor(workers: number, options: ShardHostsOptions) {
    if (!Number.isInteger(workers) || workers < 1) {
      throw new RangeError(`Cannot run shards on ${workers} workers`);
    }
    this.hosts = Math.min(workers, options.count);
    this.#options = options;
    this.#capacity = options.capacity ?? 64;
    this.#restarts = new Array(options.count).fill(0);
    this.#failed = new Array(options.count).fill(false);
    this.#supervisors = Array.from({ length: options.count }, (_, i) =>
      new Supervisor({
        maxRestarts: options.maxRestarts,
        withinMs: options.withinMs,
        onFailure: (report: FailureReport) => {
          options.onFailure?.(report);
          if (report.restarted) {
            this.#restarts[i]++;
            options.onRestart(i);
          } else this.#failForGood(i);
        },
      }));
    for (let w = 0; w < this.hosts; w++) {
      const shards: number[] = [];
      for (let s = w; s < options.count; s += this.hosts) shards.push(s);
      const images = shards.map((s) => options.images[s]);
      this.#slots.push(this.#spawn(w, shards, images, false));
    }
    // The images went to the workers (their pages transferred): let them go here.
    options.images.fill(null);
  }

  async deliver(host: number, rows: RoutedRows): Promise<void> {
    const maxRows = this.#capacity * 1024;
    const full = (s: Slot) =>
      s.inFlight >= this.#capacity ||
      (s.inFlightRows > 0 && s.inFlightRows + rows.length > maxRows);
    // Re-read each time: the worker may have been replaced meanwhile.
    while (full(this.#slots[host]) && !this.#stopped) {
      await new Promise<void>((resolve) => this.#slots[host].waiting.push(resolve));
    }
    const live = this.#slots[host];
    live.inFlight++;
    live.inFlightRows += rows.length;
    live.sizes.push(rows.length);
    const packed = packRows(rows);
    this.#post(live, { t: "rows", packed }, [packed.buffer]);
  }

  remove(shard: number, local: number): Promise<void> {
    this.#post(this.#slotOf(shard), { t: "remove", shard, local });
    return Promise.resolve();
  }

  restore(shard: number, image: ShardImage | null, seq?: number): Promise<void> {
    const transfer = (image?.pages ?? []).flatMap((p) => (p ? [p.buffer as ArrayBuffer] : []));
    this.#post(this.#slotOf(shard), { t: "restore", shard, image, seq }, transfer);
    return Promise.resolve();
  }

  flush(timeoutMs: number): Promise<(ShardChanges | null)[]> {
    return this.#perShard<ShardChanges>((id) => ({ t: "flush", id }), timeoutMs, { late: true });
  }

  state(timeoutMs: number): Promise<(ShardChanges | null)[]> {
    return this.#perShard<ShardChanges>((id) => ({ t: "state", id }), timeoutMs);
  }

  checkpoint(seq: number, since: number[], timeoutMs: number): Promise<(ShardImage | null)[]> {
    return this.#perShard<ShardImage>(
      (id, slot) => ({ t: "checkpoint", id, seq, since: slot.shards.map((s) => since[s]) }),
      timeoutMs,
    );
  }

  async checkpointOne(
    shard: number,
    seq: number,
    since: number,
    timeoutMs: number,
  ): Promise<ShardImage | null> {
    if (this.#failed[shard]) return null;
    const slot = this.#slotOf(shard);
    // Only its worker is asked, and only it answers: the other shards there go on.
    const answers = await this.#request<(ShardImage | null)[]>(
      slot,
      (id) => ({
        t: "checkpoint",
        id,
        seq,
        since: slot.shards.map((s) => s === shard ? since : null),
      }),
      { timeoutMs, fallback: [] },
    );
    return answers[slot.shards.indexOf(shard)] ?? null;
  }

  heldWindows(
    shard: number,
    query: { local: number; metric: number; size: number },
    timeoutMs: number,
  ): Promise<HeldWindow[] | null> {
    if (this.#failed[shard]) return Promise.resolve(null);
    return this.#request<HeldWindow[] | null>(
      this.#slotOf(shard),
      (id) => ({ t: "held", id, shard, ...query }),
      { timeoutMs, fallback: null },
    );
  }

  health(): ShardHealth[] {
    return this.#failed.map((failed, s) => ({
      depth: this.#slotOf(s).inFlight,
      restarts: this.#restarts[s],
      failed,
    }));
  }

  /** Tests: the worker hosting `shard` dies (an uncaught error, or terminated from here). */
  crashWorker(shard: number, how: "throw" | "terminate" = "throw"): void {
    const slot = this.#slotOf(shard);
    if (how === "throw") this.#post(slot, { t: "crash" });
    else this.#died(slot, new Error("shard worker terminated (a test)"));
  }

  /** Tests: `shard` throws when its next rows arrive. */
  poison(shard: number): void {
    this.#post(this.#slotOf(shard), { t: "poison", shard });
  }

  async stop(): Promise<void> {
    // Every message sent before is done once the worker answers this one.
    await Promise.all(
      this.#slots.map((slot) =>
        this.#request(slot, (id) => ({ t: "sync", id }), { timeoutMs: 30_000, fallback: false })
      ),
    );
    this.#stopped = true;
    for (const slot of this.#slots) {
      slot.worker.terminate();
      this.#settle(slot);
    }
  }

  #slotOf(shard: number): Slot {
    return this.#slots[shard % this.hosts];
  }

  #spawn(
    w: number,
    shards: number[],
    images: (ShardImage | null)[],
    awaitingReplay: boolean,
  ): Slot {
    const worker = new Worker(WORKER_URL, { type: "module", name: `shards-${w}` });
    const slot: Slot = {
      worker,
      shards,
      inFlight: 0,
      inFlightRows: 0,
      sizes: [],
      waiting: [],
      pending: new Map(),
      lateFlush: null,
    };
    worker.onmessage = (event: MessageEvent<FromWorker>) => this.#receive(slot, event.data);
    worker.onerror = (event: ErrorEvent) => {
      // Handled here: an error in a worker must not take the process down.
      event.preventDefault();
      this.#died(slot, new Error(`shard worker ${w} failed: ${event.message}`));
    };
    worker.onmessageerror = () =>
      this.#died(slot, new Error(`shard worker ${w}: unreadable message`));
    const transfer = images.flatMap((image) =>
      (image?.pages ?? []).flatMap((p) => (p ? [p.buffer as ArrayBuffer] : []))
    );
    const { window, windowSpec, metrics } = this.#options;
    this.#post(slot, {
      t: "init",
      shards,
      window,
      spec: { sizesMs: [...windowSpec.sizesMs], graceMs: windowSpec.graceMs },
      metrics,
      images,
      imageSeq: this.#options.imageSeq,
      awaitingReplay,
    }, transfer);
    return slot;
  }

  #receive(slot: Slot, message: FromWorker): void {
    switch (message.t) {
      case "ack":
        slot.inFlight--;
        slot.inFlightRows -= slot.sizes.shift() ?? 0;
        for (const wake of slot.waiting.splice(0)) wake();
        return;
      case "reply": {
        const pending = slot.pending.get(message.id);
        if (!pending) return; // timed out meanwhile
        slot.pending.delete(message.id);
        clearTimeout(pending.timer);
        pending.resolve(message.value);
        return;
      }
      case "failure": {
        const error = new Error(message.message);
        if (message.stack) error.stack = message.stack;
        this.#supervisors[message.shard].shouldRestart(`shard-${message.shard}`, error);
        return;
      }
    }
  }

  /** A worker died: a fresh one takes its shards, which start empty and wait for their replay. */
  #died(slot: Slot, error: Error): void {
    const w = this.#slots.indexOf(slot);
    if (w < 0 || this.#stopped) return;
    slot.worker.terminate();
    const fresh = this.#spawn(w, slot.shards, slot.shards.map(() => null), true);
    this.#slots[w] = fresh;
    for (const shard of slot.shards) {
      if (this.#failed[shard]) this.#post(fresh, { t: "failed", shard });
    }
    this.#settle(slot);
    for (const shard of slot.shards) {
      if (!this.#failed[shard]) this.#supervisors[shard].shouldRestart(`shard-${shard}`, error);
    }
  }

  /** Answers what a dead (or stopped) worker still owed, and wakes its senders. */
  #settle(slot: Slot): void {
    for (const [id, pending] of slot.pending) {
      clearTimeout(pending.timer);
      slot.pending.delete(id);
      pending.resolve(pending.fallback);
    }
    slot.inFlight = 0;
    slot.inFlightRows = 0;
    slot.sizes.length = 0;
    for (const wake of slot.waiting.splice(0)) wake();
  }

  #failForGood(shard: number): void {
    this.#failed[shard] = true;
    this.#post(this.#slotOf(shard), { t: "failed", shard });
  }

  #post(slot: Slot, message: ToWorker, transfer: Transferable[] = []): void {
    if (this.#stopped) return;
    slot.worker.postMessage(message, transfer);
  }

  #request<R>(
    slot: Slot,
    message: (id: number) => ToWorker,
    options: { timeoutMs: number; fallback: R; late?: (answer: Promise<R>) => void },
  ): Promise<R> {
    if (this.#stopped) return Promise.resolve(options.fallback);
    const id = this.#nextId++;
    return new Promise<R>((resolve) => {
      const timer = setTimeout(() => {
        const pending = slot.pending.get(id);
        if (pending && options.late) {
          // The answer still counts: whoever asks next takes it.
          options.late(new Promise<R>((r) => (pending.resolve = r as (v: unknown) => void)));
        } else {
          slot.pending.delete(id);
        }
        resolve(options.fallback);
      }, options.timeoutMs);
      slot.pending.set(id, {
        resolve: resolve as (v: unknown) => void,
        fallback: options.fallback,
        timer,
      });
      this.#post(slot, message(id));
    });
  }

  /** Asks every worker, and lays the answers out by shard (null for failed shards). */
  async #perShard<R>(
    message: (id: number, slot: Slot) => ToWorker,
    timeoutMs: number,
    options: { late?: boolean } = {},
  ): Promise<(R | null)[]> {
    const out: (R | null)[] = new Array(this.#options.count).fill(null);
    await Promise.all(this.#slots.map(async (slot) => {
      const fallback = slot.shards.map(() => null);
      const keep = (answer: Promise<(R | null)[]>) => (slot.lateFlush = answer);
      let answers: (R | null)[];
      if (options.late && slot.lateFlush) {
        // The answer to a flush given up on is this one's; wait for it instead of asking again.
        const late = slot.lateFlush as Promise<(R | null)[]>;
        slot.lateFlush = null;
        let timer: ReturnType<typeof setTimeout> | undefined;
        const gaveUp = Symbol();
        const got = await Promise.race([
          late,
          new Promise<typeof gaveUp>((r) => (timer = setTimeout(() => r(gaveUp), timeoutMs))),
        ]);
        clearTimeout(timer);
        if (got === gaveUp) keep(late);
        answers = got === gaveUp ? fallback : got;
      } else {
        answers = await this.#request<(R | null)[]>(slot, (id) => message(id, slot), {
          timeoutMs,
          fallback,
          late: options.late ? keep : undefined,
        });
      }
      slot.shards.forEach((s, k) => {
        if (!this.#failed[s]) out[s] = answers[k];
      });
    }));
    return out;
  }
}
