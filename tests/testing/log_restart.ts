import { DEFAULT_WINDOW_SPEC, ShardSet } from "../../actors/shards/mod.ts";
import type { ShardImage } from "../../actors/shards/mod.ts";
import { openStore } from "../../server/store/mod.ts";
import { createSource } from "../../server/sources/create_source.ts";
import type { LogSource } from "../../server/sources/kv/log_source.ts";

/**
 * The server's start on a Deno KV file, as `pulseboard.ts` wires it: the
 * store opened (its last checkpoint), the shards restored from it, and the
 * log source made (not started). The caller stops the source and shards
 * and closes the store.
 */
export async function openLogRestart(
  path: string,
  options: { shards: number; window: number; workers?: number; checkpointEveryMs?: number },
) {
  const store = await openStore<ShardImage>(path, { source: "log" });
  const shards = await ShardSet.open({
    count: options.shards,
    window: options.window,
    windowSpec: DEFAULT_WINDOW_SPEC,
    workers: options.workers ?? 0,
    checkpoint: store.checkpoint,
    checkpointSeq: store.checkpoint?.seq,
  }, store.shards);
  const source = await createSource({
    source: "kv",
    checkpointEveryMs: options.checkpointEveryMs ?? 3_600_000,
    mongoUri: null,
    mongoDb: "",
    mongoCollection: "",
    maxFutureMs: 60_000,
  }, { store, shards }) as LogSource;
  return { store, shards, source };
}
