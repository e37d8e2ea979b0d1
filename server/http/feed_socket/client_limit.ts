/**
 * The default `--max-clients`: half of `memoryBytes` over `maxBufferedBytes`
 * (what a stalled client may hold before its session stops sending to it),
 * at least 64 and at most 100,000. The frame in flight past that bound comes
 * out of the other half: counting a whole 1 MiB frame per client as well
 * refused the 10,000th dashboard on a 24 GiB machine, though a viewport
 * frame is a few KB. Per-address limits alone let clients of many addresses
 * together hold memory without a bound.
 */
export function defaultMaxClients(memoryBytes: number, maxBufferedBytes: number): number {
  const fits = Math.floor(memoryBytes / 2 / maxBufferedBytes);
  return Math.min(100_000, Math.max(64, Number.isFinite(fits) ? fits : 64));
}
