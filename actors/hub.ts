import { ask } from "./runtime/mod.ts";
import type { Actor, Behavior } from "./runtime/mod.ts";
import { FeedView } from "./feed_view.ts";
import type { HubMessage } from "./hub_messages.ts";
import type { Session } from "./session.ts";
import type { ShardChanges, ShardMessage } from "./shard_messages.ts";
import type { MetricStates } from "../protocol/frames.ts";
import { encodeDelta, encodePing, encodeSnapshot } from "../protocol/frames.ts";
import { CloseCode } from "../protocol/close_codes.ts";

/** Told about every tick, e.g. to feed histograms. */
export interface HubObserver {
  tick(durationMs: number): void;
  /** A delta went out at `sentAtMs` with these updates (event times in `timeMs`). */
  sent(updates: MetricStates, sentAtMs: number): void;
}

export interface HubOptions {
  /** This stream's epoch; a new one at every server start. */
  epoch: number;
  /** How often clients are pinged. Default 15 000 ms. */
  pingIntervalMs?: number;
  /** How long a tick waits for a shard's flush. Default 2000 ms. */
  flushTimeoutMs?: number;
  /** Clock. Default `Date.now`. */
  now?: () => number;
  observer?: HubObserver;
}

/** Counters the hub keeps up to date for /healthz and the benchmark. */
export class HubStats {
  seq = 0;
  sessions = 0;
  ticks = 0;
  framesSent = 0;
  bytesSent = 0;
  updatesSent = 0;
  snapshotsSent = 0;
  skippedFrames = 0;
  slowCloses = 0;
  flushTimeouts = 0;
  sensors = 0;
  lastTickMs = 0;
}

/**
 * Collects every shard's changes once per tick, merges them (the latest value
 * wins), encodes ONE delta frame and sends the same bytes to every session.
 * Joins are handled between ticks, so a snapshot is exactly the state after
 * delta `seq` and the next delta the client sees is `seq + 1`.
 */
export class HubBehavior implements Behavior<HubMessage> {
  readonly #shards: readonly Actor<ShardMessage>[];
  readonly #epoch: number;
  readonly #pingIntervalMs: number;
  readonly #flushTimeoutMs: number;
  readonly #now: () => number;
  readonly #observer?: HubObserver;
  readonly #view = new FeedView();
  readonly #sessions = new Set<Session>();
  readonly stats: HubStats;
  #seq = 0;
  #lastPingAt: number;
  #nonce = 0;
  #snapshot: { seq: number; bytes: Uint8Array } | null = null;

  constructor(shards: readonly Actor<ShardMessage>[], options: HubOptions, stats = new HubStats()) {
    this.#shards = shards;
    this.#epoch = options.epoch;
    this.#pingIntervalMs = options.pingIntervalMs ?? 15_000;
    this.#flushTimeoutMs = options.flushTimeoutMs ?? 2_000;
    this.#now = options.now ?? Date.now;
    this.#observer = options.observer;
    this.#lastPingAt = this.#now();
    this.stats = stats;
  }

  async receive(message: HubMessage): Promise<void> {
    switch (message.type) {
      case "tick":
        await this.#tick();
        return;
      case "join":
        if (message.session.send(this.#snapshotBytes())) {
          this.#sessions.add(message.session);
          this.stats.snapshotsSent++;
        }
        this.stats.sessions = this.#sessions.size;
        return;
      case "leave":
        this.#sessions.delete(message.session);
        this.stats.sessions = this.#sessions.size;
        return;
      case "shutdown":
        for (const session of this.#sessions) {
          session.close(message.code, "server is shutting down");
        }
        this.#sessions.clear();
        this.stats.sessions = 0;
        return;
      default: {
        const unknown: never = message;
        throw new TypeError(`Hub cannot handle ${JSON.stringify(unknown)}`);
      }
    }
  }

  async #tick(): Promise<void> {
    const started = performance.now();
    const changes = await Promise.all(
      this.#shards.map((shard) =>
        ask<ShardMessage, ShardChanges>(shard, (reply) => ({ type: "flush", reply }), {
          timeoutMs: this.#flushTimeoutMs,
        }).catch(() => {
          this.stats.flushTimeouts++;
          return null;
        })
      ),
    );
    const now = this.#now();
    const merged = this.#view.apply(changes);
    let delta: Uint8Array | null = null;
    if (merged) {
      this.#seq++;
      delta = encodeDelta({
        epoch: this.#epoch,
        seq: this.#seq,
        serverTimeMs: now,
        sensors: merged.sensors,
        metrics: merged.metrics,
        updates: merged.updates,
        removed: [],
      });
      this.stats.updatesSent += merged.updates.length * this.#sessions.size;
    }
    const snapshot = () => this.#snapshotBytes();
    for (const session of this.#sessions) {
      const before = session.skipped;
      if (!session.deliver(delta, now, snapshot)) {
        this.#forget(session);
        continue;
      }
      if (session.skipped !== before) this.stats.skippedFrames++;
      else if (delta) {
        this.stats.framesSent++;
        this.stats.bytesSent += delta.byteLength;
      }
    }
    if (now - this.#lastPingAt >= this.#pingIntervalMs) {
      this.#lastPingAt = now;
      const ping = encodePing(++this.#nonce >>> 0, now);
      for (const session of this.#sessions) if (!session.ping(ping, now)) this.#forget(session);
    }
    this.stats.seq = this.#seq;
    this.stats.ticks++;
    this.stats.sensors = this.#view.sensorCount;
    this.stats.sessions = this.#sessions.size;
    this.stats.lastTickMs = performance.now() - started;
    this.#observer?.tick(this.stats.lastTickMs);
    if (merged && this.#sessions.size > 0) this.#observer?.sent(merged.updates, now);
  }

  #forget(session: Session): void {
    this.#sessions.delete(session);
    if (session.closeCode === CloseCode.Slow) this.stats.slowCloses++;
  }

  /** The snapshot at the current seq, encoded once however many clients ask. */
  #snapshotBytes(): Uint8Array {
    if (this.#snapshot?.seq !== this.#seq) {
      const state = this.#view.snapshot();
      this.#snapshot = {
        seq: this.#seq,
        bytes: encodeSnapshot({
          epoch: this.#epoch,
          seq: this.#seq,
          serverTimeMs: this.#now(),
          ...state,
        }),
      };
    }
    return this.#snapshot.bytes;
  }
}
