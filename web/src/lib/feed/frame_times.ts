// How long frames take from their arrival to the screen (decode, apply,
// render), kept since the last report: what a client tells the server with
// ClientStats, so a slow device is sent less often. Pure.

export class FrameTimes {
  #samples: number[] = [];
  /** The last report's 95th percentile, for display. */
  lastP95Ms = 0;

  add(ms: number): void {
    // A burst of frames waiting for one render counts once per frame: what the screen lagged.
    if (this.#samples.length < 4096) this.#samples.push(ms);
  }

  /** The 95th percentile and count since the last call, and starts over. */
  take(): { p95: number; count: number } {
    const samples = this.#samples.sort((a, b) => a - b);
    this.#samples = [];
    if (samples.length === 0) return { p95: 0, count: 0 };
    const p95 = samples[Math.min(samples.length - 1, Math.ceil(0.95 * samples.length) - 1)];
    this.lastP95Ms = p95;
    return { p95, count: samples.length };
  }
}
