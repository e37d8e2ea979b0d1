/** What a supervisor is told each time one of its actors fails. */
export interface FailureReport {
  actor: string;
  error: Error;
  /** Whether the actor is restarted (false once it failed too often). */
  restarted: boolean;
  /** Failures of this actor within the current window, this one included. */
  failures: number;
}

export interface SupervisorOptions {
  /** Restarts allowed per actor within `withinMs`. Default 5. */
  maxRestarts?: number;
  /** Length of the window that `maxRestarts` counts over. Default 60 000 ms. */
  withinMs?: number;
  /** Called on every failure, e.g. to log it or to ask for a replay. */
  onFailure?: (report: FailureReport) => void;
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number;
}

/**
 * One-for-one restart strategy (as in Akka): an actor that throws is restarted
 * with a fresh behavior unless it failed `maxRestarts` times within `withinMs`,
 * in which case it stops for good so a poison message cannot spin forever.
 */
export class Supervisor {
  readonly #maxRestarts: number;
  readonly #withinMs: number;
  readonly #onFailure?: (report: FailureReport) => void;
  readonly #now: () => number;
  readonly #failures = new Map<string, number[]>();

  constructor(options: SupervisorOptions = {}) {
    this.#maxRestarts = options.maxRestarts ?? 5;
    this.#withinMs = options.withinMs ?? 60_000;
    this.#onFailure = options.onFailure;
    this.#now = options.now ?? Date.now;
  }

  /** Records a failure and says whether the actor should be restarted. */
  shouldRestart(actor: string, error: Error): boolean {
    const now = this.#now();
    const recent = (this.#failures.get(actor) ?? []).filter((at) => now - at < this.#withinMs);
    recent.push(now);
    this.#failures.set(actor, recent);
    const restarted = recent.length <= this.#maxRestarts;
    this.#onFailure?.({ actor, error, restarted, failures: recent.length });
    return restarted;
  }
}
