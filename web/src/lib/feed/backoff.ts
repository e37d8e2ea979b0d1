/**
 * Delay before reconnect attempt `attempt` (0-based): exponential from
 * `baseMs`, capped at `maxMs`, with full jitter so a fleet of dashboards
 * does not reconnect in lockstep after a server restart. Pure.
 */
export function reconnectDelay(
  attempt: number,
  random: () => number = Math.random,
  options: { baseMs?: number; maxMs?: number } = {},
): number {
  const { baseMs = 250, maxMs = 15_000 } = options;
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
