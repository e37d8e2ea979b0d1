// How often a session is sent frames: every tick, or every 2, 5 or 10
// (10, 5, 2 and 1 Hz at the default 100 ms tick). A session whose unsent
// bytes stay high, or whose client reports frames taking longer than it can
// afford, is moved down a step; one that stays clean for a while moves back
// up. Pure: time and samples are passed in.

/** Ticks between a session's frames, by level. */
export const RATE_PERIODS: readonly number[] = Object.freeze([1, 2, 5, 10]);
export const SLOWEST_LEVEL = RATE_PERIODS.length - 1;

export interface RatePolicy {
  /**
   * Unsent bytes above which a session is moved down a step (after
   * `stepDownTicks` ticks in a row). Lower than the skip cap, so a session
   * is sent less often before anything is skipped. Default a quarter of the
   * skip cap (256 KiB of the default 1 MiB).
   */
  stepDownBytes: number;
  /** Ticks in a row over `stepDownBytes` before a step down. Default 3. */
  stepDownTicks: number;
  /**
   * Share of the time between its frames that a client may spend on one
   * (its reported 95th percentile, arrival to screen) before it is moved
   * down a step. Default 0.5.
   */
  frameBudget: number;
  /** How long a session must stay clean (few unsent bytes, frames in budget) to move up a step. Default 5000 ms. */
  stepUpMs: number;
}

export const DEFAULT_RATE_POLICY: Readonly<RatePolicy> = Object.freeze({
  stepDownBytes: 256 * 1024,
  stepDownTicks: 3,
  frameBudget: 0.5,
  stepUpMs: 5_000,
});

/** Resolved policies, shared by every ladder made with the same policy object (see `sessionPolicy`). */
const NO_POLICY: Partial<RatePolicy> = Object.freeze({});
const resolved = new WeakMap<Partial<RatePolicy>, Readonly<RatePolicy>>();

function ratePolicy(policy: Partial<RatePolicy>): Readonly<RatePolicy> {
  let full = resolved.get(policy);
  if (full === undefined) {
    full = Object.freeze({ ...DEFAULT_RATE_POLICY, ...policy });
    resolved.set(policy, full);
  }
  return full;
}

/** One session's place on the ladder. */
export class RateLadder {
  level = 0;
  /** Steps down and up so far (for stats and tests). */
  stepsDown = 0;
  stepsUp = 0;
  readonly #policy: Readonly<RatePolicy>;
  readonly #tickMs: number;
  #over = 0;
  #cleanSince: number;
  /** The client's last reported frame time, and when it came. */
  #frameMs = 0;

  constructor(
    policy: Partial<RatePolicy> = NO_POLICY,
    options: { tickMs?: number; now?: number } = {},
  ) {
    this.#policy = ratePolicy(policy);
    this.#tickMs = options.tickMs ?? 100;
    this.#cleanSince = options.now ?? 0;
  }

  /** Ticks between frames now. */
  get period(): number {
    return RATE_PERIODS[this.level];
  }

  /** Time between frames now, ms. */
  get intervalMs(): number {
    return this.period * this.#tickMs;
  }

  /** Takes one tick's unsent bytes; returns whether the level changed. */
  sample(buffered: number, now: number): boolean {
    const p = this.#policy;
    if (buffered > p.stepDownBytes) {
      this.#cleanSince = now;
      if (++this.#over >= p.stepDownTicks) {
        this.#over = 0;
        return this.#down();
      }
      return false;
    }
    this.#over = 0;
    if (buffered > p.stepDownBytes / 4) this.#cleanSince = now;
    if (
      this.level > 0 && now - this.#cleanSince >= p.stepUpMs &&
      this.#frameMs <= p.frameBudget * RATE_PERIODS[this.level - 1] * this.#tickMs / 2
    ) {
      this.#cleanSince = now;
      this.level--;
      this.stepsUp++;
      return true;
    }
    return false;
  }

  /** Takes the client's report of its frame time (95th percentile, ms); returns whether the level changed. */
  report(frameMs: number, now: number): boolean {
    this.#frameMs = frameMs;
    if (frameMs <= this.#policy.frameBudget * this.intervalMs) return false;
    this.#cleanSince = now;
    return this.#down();
  }

  /** Straight to the slowest rate (the session fell behind the skip cap). */
  slowest(now: number): boolean {
    this.#cleanSince = now;
    if (this.level === SLOWEST_LEVEL) return false;
    this.level = SLOWEST_LEVEL;
    this.stepsDown++;
    return true;
  }

  #down(): boolean {
    if (this.level === SLOWEST_LEVEL) return false;
    this.level++;
    this.stepsDown++;
    return true;
  }
}
