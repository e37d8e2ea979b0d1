/** Room for one frame in flight on top of a client's `--max-buffered`. */
const FRAME_ALLOWANCE_BYTES = 1 << 20;

/**
 * The default `--max-clients`: half of `memoryBytes` over what one stalled
 * client may hold (`maxBufferedBytes`, which the session lets it reach
 * before it stops sending, plus a frame), at least 64 and at most 100,000.
 * Per-address limits alone let clients of many addresses together hold
 * memory without a bound.
 */
export function defaultMaxClients(memoryBytes: number, maxBufferedBytes: number): number {
  const perClient = maxBufferedBytes + FRAME_ALLOWANCE_BYTES;
  const fits = Math.floor(memoryBytes / 2 / perClient);
  return Math.min(100_000, Math.max(64, Number.isFinite(fits) ? fits : 64));
}
