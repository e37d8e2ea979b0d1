import { CheckpointStore } from "./checkpoint_store.ts";
import type { Checkpoint, CheckpointSource, StoredShard } from "./checkpoint_store.ts";
import { KvLog } from "./kv_log.ts";
import { pageRelease } from "./page_release.ts";
import { logger } from "../ops/logger.ts";

/** The opened store: the Deno KV handle, the event log, the checkpoints and the last one. */
export interface Store<S extends StoredShard> {
  kv: Deno.Kv;
  log: KvLog;
  checkpoints: CheckpointStore;
  /**
   * The current checkpoint of the configured source; null if none or
   * unreadable. Its shards have their headers only: their pages are in `shards`.
   */
  checkpoint: Checkpoint<S> | null;
  /**
   * Per shard of `checkpoint`, that shard with every page, read in shard
   * order after the rest: a shard can be restored while the next is read.
   * A shard that cannot be read rejects. Whoever restores a shard takes it
   * (sets its entry to null), so its pages can go once restored. Null
   * without a checkpoint.
   */
  shards: (Promise<S> | null)[] | null;
  /** Keeps only where the checkpoint stands (cursor, generation): the stages took its state. */
  releaseCheckpoint(): void;
  close(): void;
}

/**
 * Opens the Deno KV file (`--data`, made with its directory if missing, or
 * `:memory:`) and loads the current checkpoint of `source`. An unreadable
 * checkpoint is logged and ignored: the state is then rebuilt from the source.
 */
export async function openStore<S extends StoredShard>(
  data: string,
  options: { source: CheckpointSource },
): Promise<Store<S>> {
  // A failure carries the file it is about (`path`): the start says which option named it.
  const about = (error: unknown) => Object.assign(error as Error, { path: data });
  if (data !== ":memory:") {
    const dir = data.includes("/") ? data.slice(0, data.lastIndexOf("/")) : ".";
    await Deno.mkdir(dir || "/", { recursive: true }).catch((error) => {
      throw about(error);
    });
  }
  // One server per file: a second would write its checkpoints over the first's and tail
  // a log it does not own. The lock is the OS's (released however the process ends).
  const lock = data === ":memory:" ? null : await lockFor(data).catch((error) => {
    throw about(error);
  });
  const kv = await Deno.openKv(data).catch(async (error) => {
    lock?.close();
    const isDirectory = await Deno.stat(data).then((s) => s.isDirectory, () => false);
    throw about(isDirectory ? new Deno.errors.IsADirectory(`${data} is a directory`) : error);
  });
  // Spent shard pages are released without being detached (see page_release.ts).
  const checkpoints = new CheckpointStore(kv, { releasePages: pageRelease() });
  const checkpoint = await checkpoints.load<S>({ source: options.source, pages: false }).catch(
    (error) => {
      logger.error("ignoring an unreadable checkpoint; replaying the log from the start", {
        error,
      });
      return null;
    },
  );
  const shards = checkpoint
    ? checkpoint.shards.map((_, s) => checkpoints.loadShard<S>(s, checkpoint.seq!))
    : null;
  // Awaited by whoever restores them; one never awaited (a checkpoint that does not fit) is no crash.
  for (const shard of shards ?? []) shard.catch(() => {});
  const store: Store<S> = {
    kv,
    log: new KvLog(kv),
    checkpoints,
    checkpoint,
    shards,
    releaseCheckpoint() {
      store.shards = null;
      const c = store.checkpoint;
      if (c) {
        store.checkpoint = {
          ...c,
          router: { sensors: [], metrics: [] },
          shards: [],
          extras: {},
          sourceState: undefined,
        };
      }
    },
    close: () => {
      kv.close();
      lock?.close();
    },
  };
  return store;
}

/** `${data}.lock`, locked for this process alone, or why not. */
async function lockFor(data: string): Promise<Deno.FsFile> {
  const file = await Deno.open(`${data}.lock`, { create: true, write: true });
  if (await file.tryLock(true)) return file;
  file.close();
  throw new Error(
    "another Pulseboard process is using it; stop that one, or give this one another --data",
  );
}

/** The store a server with this config uses: its `--data` file, and the checkpoint of its `--source`. */
export function openStoreFor<S extends StoredShard>(
  config: { data: string; source: string },
): Promise<Store<S>> {
  return openStore<S>(config.data, { source: config.source === "mongo" ? "mongo" : "log" });
}
