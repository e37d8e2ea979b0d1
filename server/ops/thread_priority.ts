// The event loop's thread (ingest, the hub's tick, the sends) takes a core
// before the server's background threads: Deno KV's writer ("sw-N"), V8's
// platform threads (concurrent marking, compiling) and tokio's blocking
// pool run at a higher nice. On 2 cores a tick that these preempted
// waited ~8 ms in its slowest tenth while its own work stayed ~10 ms.
// Linux only (niceness is per thread there); threads made later are
// found by the next `apply`. Shard and sort workers are left as they are:
// the tick waits for them.
import os from "node:os";

/** Background threads by name (`/proc/self/task/<tid>/comm`). */
export const BACKGROUND_THREADS: readonly RegExp[] = [/^sw-\d+$/, /^V8 /, /^tokio-runtime/];

export interface ThreadPriorityStats {
  /** Background threads set to the nice so far. */
  threads: number;
  /** Why it is off, when it is. */
  off: string | null;
}

export class ThreadPriority {
  readonly stats: ThreadPriorityStats = { threads: 0, off: null };
  readonly #nice: number;
  readonly #done = new Set<number>();
  readonly #names: readonly RegExp[];
  readonly #timer: ReturnType<typeof setInterval> | null = null;

  /** `nice`: added to the background threads' (0: off); re-checked every `everyMs` for new threads. */
  constructor(nice: number, o: { everyMs?: number; names?: readonly RegExp[] } = {}) {
    this.#nice = nice;
    this.#names = o.names ?? BACKGROUND_THREADS;
    if (nice === 0) {
      this.stats.off = "--background-nice 0";
      return;
    }
    if (Deno.build.os !== "linux") {
      this.stats.off = `not Linux (${Deno.build.os})`;
      return;
    }
    this.apply();
    const timer = setInterval(() => this.apply(), o.everyMs ?? 10_000);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Sets the nice of background threads not set yet; returns how many it set now. */
  apply(): number {
    if (this.stats.off !== null) return 0;
    let set = 0;
    let tasks: Deno.DirEntry[];
    try {
      tasks = [...Deno.readDirSync("/proc/self/task")];
    } catch (error) {
      this.stats.off = `no /proc/self/task (${error instanceof Error ? error.message : error})`;
      return 0;
    }
    const alive = new Set<number>();
    for (const task of tasks) {
      const tid = Number(task.name);
      alive.add(tid);
      if (tid === Deno.pid || this.#done.has(tid)) continue;
      try {
        const name = Deno.readTextFileSync(`/proc/self/task/${task.name}/comm`).trim();
        if (!this.#names.some((pattern) => pattern.test(name))) continue;
        os.setPriority(tid, Math.min(19, os.getPriority(Deno.pid) + this.#nice));
        this.#done.add(tid);
        set++;
      } catch { /* the thread ended meanwhile, or may not be changed */ }
    }
    for (const tid of this.#done) if (!alive.has(tid)) this.#done.delete(tid);
    this.stats.threads = this.#done.size;
    return set;
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
  }
}
