// A shard worker: hosts some of the shards on its own thread. Messages are
// handled one at a time in arrival order, so each shard sees its readings,
// flushes, checkpoints and restores in the order the shard set sent them.
import { ShardBehavior } from "./shard.ts";
import type { ShardOptions } from "./shard.ts";
import { unpackRows } from "./routed_rows.ts";
import type { ShardImage } from "./shard_image.ts";
import type { ShardChanges, ShardMessage } from "./shard_messages.ts";
import type { FromWorker, ToWorker } from "./worker_protocol.ts";

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
};

const shards = new Map<number, ShardBehavior>();
const failed = new Set<number>();
const poisoned = new Set<number>();
let order: number[] = [];
let options: ShardOptions = {};

scope.onmessage = (event) => handle(event.data);

function handle(message: ToWorker): void {
  switch (message.t) {
    case "init": {
      order = message.shards;
      options = { window: message.window, windowSpec: message.spec, metrics: message.metrics };
      order.forEach((shard, k) =>
        shards.set(
          shard,
          new ShardBehavior({
            ...options,
            awaitingReplay: message.awaitingReplay,
            image: message.images[k],
            imageSeq: message.imageSeq,
          }),
        )
      );
      return;
    }
    case "rows": {
      const rows = unpackRows(message.packed);
      for (let k = 0; k < rows.shards.length; k++) {
        const shard = rows.shards[k];
        if (poisoned.delete(shard)) {
          fail(shard, new Error(`shard ${shard} poisoned (a test)`));
          continue;
        }
        send(shard, {
          type: "readings",
          rows,
          from: rows.shardStart[k],
          to: rows.shardStart[k + 1],
        });
      }
      scope.postMessage({ t: "ack" });
      return;
    }
    case "remove":
      send(message.shard, { type: "remove", local: message.local });
      return;
    case "restore":
      send(message.shard, { type: "restore", image: message.image, seq: message.seq });
      return;
    case "flush": {
      const changes = order.map((shard) =>
        ask<ShardChanges>(shard, (r) => ({ type: "flush", reply: r }))
      );
      reply(message.id, changes, changeBuffers(changes));
      return;
    }
    case "state": {
      const changes = order.map((shard) =>
        ask<ShardChanges | null>(shard, (r) => ({ type: "state", reply: r }))
      );
      reply(message.id, changes, changeBuffers(changes));
      return;
    }
    case "checkpoint": {
      const images = order.map((shard, k) => {
        const since = message.since[k];
        return since === null ? null : ask<ShardImage | null>(shard, (r) => ({
          type: "checkpoint",
          seq: message.seq,
          since,
          reply: r,
        }));
      });
      reply(message.id, images, pageBuffers(images));
      return;
    }
    case "held":
      reply(
        message.id,
        ask(message.shard, (r) => ({
          type: "heldWindows",
          local: message.local,
          metric: message.metric,
          size: message.size,
          reply: r,
        })),
      );
      return;
    case "failed":
      failed.add(message.shard);
      shards.delete(message.shard);
      return;
    case "sync":
      reply(message.id, true);
      return;
    case "crash":
      setTimeout(() => {
        throw new Error("shard worker crashed (a test)");
      });
      return;
    case "poison":
      poisoned.add(message.shard);
      return;
    default: {
      const unknown: never = message;
      throw new TypeError(`Shard worker cannot handle ${JSON.stringify(unknown)}`);
    }
  }
}

/** Runs one message on a shard; a throw replaces it with an empty one awaiting its restore. */
function send(shard: number, message: ShardMessage): void {
  const behavior = shards.get(shard);
  if (!behavior || failed.has(shard)) return;
  try {
    behavior.receive(message);
  } catch (error) {
    fail(shard, error instanceof Error ? error : new Error(String(error)));
  }
}

function fail(shard: number, error: Error): void {
  shards.set(shard, new ShardBehavior({ ...options, awaitingReplay: true }));
  scope.postMessage({ t: "failure", shard, message: error.message, stack: error.stack });
}

/** A shard's answer to a request; null when it is failed or threw. */
function ask<R>(shard: number, request: (reply: (r: R) => void) => ShardMessage): R | null {
  let answer: R | null = null;
  send(shard, request((r) => (answer = r)));
  return answer;
}

function reply(id: number, value: unknown, transfer: Transferable[] = []): void {
  scope.postMessage({ t: "reply", id, value }, transfer);
}

/** The buffers of flushes' columns: they move to the main thread rather than being copied. */
function changeBuffers(changes: (ShardChanges | null)[]): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const c of changes) {
    if (!c) continue;
    const { updates: u, windows: w, levels } = c;
    if (levels) out.push(levels.sensor.buffer as ArrayBuffer, levels.level.buffer as ArrayBuffer);
    for (const a of [u.sensor, u.metric, u.last, u.avg, u.min, u.max, u.timeMs]) {
      out.push(a.buffer as ArrayBuffer);
    }
    for (
      const a of [
        w.sensor,
        w.metric,
        w.size,
        w.flags,
        w.startMs,
        w.count,
        w.sum,
        w.min,
        w.max,
        w.std,
      ]
    ) {
      out.push(a.buffer as ArrayBuffer);
    }
  }
  return out;
}

/** The buffers of images' pages. */
function pageBuffers(images: (ShardImage | null)[]): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const image of images) {
    for (const page of image?.pages ?? []) if (page) out.push(page.buffer as ArrayBuffer);
  }
  return out;
}
