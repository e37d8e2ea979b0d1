import { ask } from "../../actors/runtime/mod.ts";
import type { Actor } from "../../actors/runtime/mod.ts";
import type { HeldWindow } from "../../actors/shards/event_window_store.ts";
import type { ShardMessage } from "../../actors/shards/shard_messages.ts";

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
  /** The sensor's global index and shard (`Router.lookup`). */
  lookup: (sensorId: string) => { index: number; shard: number } | undefined;
  shards: readonly Actor<ShardMessage>[];
  /** Window sizes of the shards' clocks (`--windows`). */
  sizesMs: readonly number[];
  /** Resolves once the hub has finished the tick in progress (a `barrier` message). */
  barrier: () => Promise<unknown>;
  /** How long to wait for the shard's answer. Default 2 s. */
  timeoutMs?: number;
}): HeldWindowsReader {
  const timeoutMs = options.timeoutMs ?? 2_000;
  return async (sizeMs, sensorId, metric) => {
    const size = options.sizesMs.indexOf(sizeMs);
    const at = options.lookup(sensorId);
    // Not a window size, or a sensor no reading has reached yet: nothing is held.
    if (size < 0 || at === undefined) return [];
    const shard = options.shards[at.shard];
    try {
      const held = await ask<ShardMessage, HeldWindow[] | null>(
        shard,
        (reply) => ({ type: "heldWindows", sensor: at.index, metric, size, reply }),
        { timeoutMs },
      );
      if (held === null) return null; // restarting: its windows come back with the replay
      await options.barrier();
      return held;
    } catch {
      return null; // failed or too busy to answer: the answer says what may be missing
    }
  };
}
