import type { HeldWindow, ShardSet } from "../../actors/shards/mod.ts";

/** Reads the windows a sensor's shard still holds; null when they cannot be read. */
export type HeldWindowsReader = (
  sizeMs: number,
  sensorId: string,
  metric: string,
) => Promise<HeldWindow[] | null>;

/**
 * The windows of the newest `--grace` seconds and the one still filling are
 * in no rollup yet: only the sensor's shard holds them. Asks it, then waits
 * for the hub to finish its tick, so that every window the shard handed over
 * before answering has reached the rollup buffer: read after this, the
 * buffer and then the store miss no window (windows move only shard → hub →
 * buffer → store).
 */
export function heldWindowsReader(options: {
  shards: Pick<ShardSet, "heldWindows">;
  /** Window sizes of the shards' event-time windows (`--windows`). */
  sizesMs: readonly number[];
  /** Resolves once the hub has merged every flush asked for before it (a `barrier` message). */
  barrier: () => Promise<unknown>;
  /** How long to wait for the shard's answer. Default 2 s. */
  timeoutMs?: number;
}): HeldWindowsReader {
  const timeoutMs = options.timeoutMs ?? 2_000;
  return async (sizeMs, sensorId, metric) => {
    const size = options.sizesMs.indexOf(sizeMs);
    // Not a window size: nothing is held.
    if (size < 0) return [];
    // [] for a sensor no reading has reached yet; null while it cannot answer
    // (restarting: its windows come back with the replay; failed or too busy:
    // the answer says what may be missing).
    const held = await options.shards.heldWindows(sensorId, metric, { size, timeoutMs });
    if (held === null) return null;
    try {
      await options.barrier();
      return held;
    } catch {
      return null;
    }
  };
}
