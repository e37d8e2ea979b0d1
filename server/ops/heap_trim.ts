// Hands the free pages inside glibc's malloc heap back to the system now and
// then. Frames, flushes and socket writes are ArrayBuffers freed in their
// thousands a second; glibc keeps the freed pages resident, so RSS follows
// the heap's high-water mark rather than what is live (measured at 10,000
// viewport clients: malloc_trim(0) took the malloc heap from 141 to 56 MB).
// Only where glibc is there (Linux); elsewhere it is off.
//
// Besides the interval, a trim follows a major collection: V8 frees dead
// ArrayBuffers in bulk (100 MB or more at 100,000 sensors), and until the
// next trim those pages stayed resident, so RSS kept the garbage's peak for
// up to the whole interval. The collection is seen as a fall of V8's
// external (ArrayBuffer) bytes, read once a second.

export interface HeapTrimStats {
  /** Trims run (those after a collection among them), and the last one's time and the RSS it gave back. */
  trims: number;
  afterCollection: number;
  lastTrimMs: number;
  lastReleasedBytes: number;
  /** Why it is off, when it is. */
  off: string | null;
}

/** What a trim calls: glibc's malloc_trim(0), off the main thread. */
export type Trim = () => Promise<void>;

/** glibc's malloc_trim over FFI, run on a thread of its own; why not, where it cannot be had. */
export function glibcTrim(): Trim | { off: string } {
  if (Deno.build.os !== "linux") return { off: `not Linux (${Deno.build.os})` };
  try {
    const libc = Deno.dlopen("libc.so.6", {
      malloc_trim: { parameters: ["usize"], result: "i32", nonblocking: true },
    });
    // Open for the process's life: a trim may be in flight at any time.
    return async () => void await libc.symbols.malloc_trim(0n);
  } catch (error) {
    return { off: `no glibc malloc_trim (${error instanceof Error ? error.message : error})` };
  }
}

/** The process's resident bytes (Linux), or NaN. */
function residentBytes(): number {
  try {
    const statm = Deno.readTextFileSync("/proc/self/statm").split(" ");
    return Number(statm[1]) * 4096;
  } catch {
    return NaN;
  }
}

/**
 * Runs `trim` every `everyMs` (0: never), one at a time: a trim that is
 * still running when the next is due makes that one wait its turn.
 */
export class HeapTrimmer {
  readonly stats: HeapTrimStats = {
    trims: 0,
    afterCollection: 0,
    lastTrimMs: 0,
    lastReleasedBytes: 0,
    off: null,
  };
  readonly #timer: ReturnType<typeof setInterval> | null = null;
  readonly #watch: ReturnType<typeof setInterval> | null = null;
  #running: Promise<void> | null = null;
  /** The most external bytes seen since the last trim. */
  #peak = 0;

  /**
   * `collection`: how often the external bytes are read (`watchMs`, 0: not
   * at all), how far they must fall below their peak since the last trim
   * for a trim to run at once (`freedBytes`), and how they are read.
   */
  constructor(
    trim: Trim | { off: string },
    everyMs: number,
    collection: { watchMs?: number; freedBytes?: number; external?: () => number } = {},
  ) {
    if (typeof trim !== "function") {
      this.stats.off = trim.off;
      return;
    }
    if (everyMs === 0) {
      this.stats.off = "--trim-memory 0";
      return;
    }
    const timer = setInterval(() => this.#start(trim), everyMs);
    Deno.unrefTimer(timer);
    this.#timer = timer;
    const watchMs = collection.watchMs ?? 1_000;
    if (watchMs > 0) {
      const freedBytes = collection.freedBytes ?? 32 * 2 ** 20;
      const external = collection.external ?? (() => Deno.memoryUsage().external);
      const watch = setInterval(() => {
        const now = external();
        if (this.#peak - now >= freedBytes && this.#start(trim)) this.stats.afterCollection++;
        this.#peak = Math.max(this.#peak, now);
      }, watchMs);
      Deno.unrefTimer(watch);
      this.#watch = watch;
    }
  }

  /** Starts a trim unless one is running; whether it started. */
  #start(trim: Trim): boolean {
    if (this.#running) return false;
    this.#peak = 0;
    this.#running = this.#once(trim).finally(() => (this.#running = null));
    return true;
  }

  async #once(trim: Trim): Promise<void> {
    const before = residentBytes();
    const started = performance.now();
    await trim();
    this.stats.lastTrimMs = performance.now() - started;
    this.stats.lastReleasedBytes = Math.max(0, before - residentBytes()) || 0;
    this.stats.trims++;
  }

  /** Stops the timer and waits for a trim in flight. */
  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    if (this.#watch !== null) clearInterval(this.#watch);
    await this.#running;
  }
}
