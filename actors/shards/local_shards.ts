import { Actor, ask, Supervisor } from "../runtime/mod.ts";
import type { Behavior } from "../runtime/mod.ts";
import type { HeldWindow } from "./event_window_store.ts";
import type { RoutedRows } from "./routed_rows.ts";
import { ShardBehavior } from "./shard.ts";
import type { ShardNames } from "./shard_state.ts";
import type { ShardImage } from "./shard_image.ts";
import type { ShardChanges, ShardMessage } from "./shard_messages.ts";
import type { ShardHealth, ShardHosts, ShardHostsOptions } from "./shard_hosts.ts";

/**
 * The shards in this isolate (`--workers 0`): one actor each over a bounded
 * mailbox, each under its own one-for-one supervisor.
 */
export class LocalShards implements ShardHosts {
  readonly hosts = 1;
  readonly #shards: Actor<ShardMessage>[];
  /**
   * Per shard: a flush asked but given up on (its timeout). The shard clears
   * its changes when it answers, so that answer is the next flush's; no new
   * flush is asked meanwhile.
   */
  readonly #lateFlush: (Promise<ShardChanges | null | typeof RESTARTED> | null)[];
  /** Per shard: ends the flush in flight with RESTARTED (the shard failed: it may never answer). */
  readonly #abandon: ((() => void) | null)[] = [];

  constructor(
    options: ShardHostsOptions & {
      names?: ShardNames;
      /** Wraps each shard's behavior (tests inject failures or delays). */
      wrap?: (behavior: ShardBehavior, shard: number) => Behavior<ShardMessage>;
    },
  ) {
    this.#shards = Array.from({ length: options.count }, (_, i) => {
      // One supervisor per shard: its failures are told with the shard's index.
      const supervisor = new Supervisor({
        maxRestarts: options.maxRestarts,
        withinMs: options.withinMs,
        onFailure: (report) => {
          // A restarted shard is restored (all of it told again), so a flush it never answers loses nothing.
          this.#abandon[i]?.();
          options.onFailure?.(report);
          if (report.restarted) options.onRestart(i);
        },
      });
      return new Actor<ShardMessage>(
        `shard-${i}`,
        (restart) => {
          const behavior = new ShardBehavior({
            window: options.window,
            windowSpec: options.windowSpec,
            metrics: options.metrics,
            names: options.names,
            // Restarted empty: readings are dropped until the replay's restore.
            awaitingReplay: restart > 0,
            image: restart === 0 ? options.images[i] : null,
            imageSeq: options.imageSeq,
            // The hub copies a flush's columns when it merges them, before the next flush is asked.
            reuseColumns: true,
          });
          return options.wrap ? options.wrap(behavior, i) : behavior;
        },
        { capacity: options.capacity ?? 64, supervisor },
      );
    });
    this.#lateFlush = new Array(options.count).fill(null);
    // The images are in the shards now: let them go.
    options.images.fill(null);
  }

  async deliver(_host: number, rows: RoutedRows): Promise<void> {
    for (let k = 0; k < rows.shards.length; k++) {
      const shard = rows.shards[k];
      const message: ShardMessage = {
        type: "readings",
        rows,
        from: rows.shardStart[k],
        to: rows.shardStart[k + 1],
      };
      // Waits only for a full mailbox (or to learn of a failure): an await per shard per batch
      // cost three promises each.
      if (!this.#shards[shard].offer(message)) await this.#send(shard, message);
    }
  }

  remove(shard: number, local: number): Promise<void> {
    return this.#send(shard, { type: "remove", local });
  }

  restore(shard: number, image: ShardImage | null, seq?: number): Promise<void> {
    return this.#send(shard, { type: "restore", image, seq });
  }

  flush(timeoutMs: number): Promise<(ShardChanges | null)[]> {
    // One timer for the round, not one per shard (a timer and a race per shard were most of an
    // empty flush's cost at 16 shards). A shard that restarts meanwhile is asked again with a
    // full timeout of its own, as before.
    const count = this.#shards.length;
    if (count === 0) return Promise.resolve([]);
    const answers: (ShardChanges | null)[] = new Array(count).fill(null);
    const asked: (Promise<ShardChanges | null | typeof RESTARTED> | null)[] = new Array(count);
    /** Per shard: 0 waits on the round's timer, 1 asked again after a restart, 2 done. */
    const phase = new Uint8Array(count);
    let open = count;
    return new Promise((resolve) => {
      const settle = (i: number, answer: ShardChanges | null) => {
        answers[i] = answer;
        phase[i] = 2;
        if (--open === 0) {
          clearTimeout(timer);
          resolve(answers);
        }
      };
      const timer = setTimeout(() => {
        for (let i = 0; i < count; i++) {
          if (phase[i] !== 0) continue;
          if (this.#shards[i].failure === null) this.#lateFlush[i] = asked[i];
          settle(i, null);
        }
      }, timeoutMs);
      for (let i = 0; i < count; i++) {
        const first = this.#lateFlush[i] ?? this.#askFlush(i);
        this.#lateFlush[i] = null;
        asked[i] = first;
        first.then((answer) => {
          if (phase[i] !== 0) return; // the round's time ran out
          if (answer !== RESTARTED) return settle(i, answer);
          phase[i] = 1;
          const again = this.#askFlush(i);
          void within(again, timeoutMs).then((late) => {
            if (late === TIMED_OUT && this.#shards[i].failure === null) this.#lateFlush[i] = again;
            settle(i, late === TIMED_OUT || late === RESTARTED ? null : late);
          });
        });
      }
    });
  }

  state(timeoutMs: number): Promise<(ShardChanges | null)[]> {
    return this.#askAll<ShardChanges | null>((reply) => ({ type: "state", reply }), timeoutMs);
  }

  checkpoint(seq: number, since: number[], timeoutMs: number): Promise<(ShardImage | null)[]> {
    return Promise.all(this.#shards.map((shard, i) =>
      ask<ShardMessage, ShardImage | null>(
        shard,
        (reply) => ({ type: "checkpoint", seq, since: since[i], reply }),
        { timeoutMs },
      ).catch(() => null)
    ));
  }

  checkpointOne(
    shard: number,
    seq: number,
    since: number,
    timeoutMs: number,
  ): Promise<ShardImage | null> {
    return ask<ShardMessage, ShardImage | null>(
      this.#shards[shard],
      (reply) => ({ type: "checkpoint", seq, since, reply }),
      { timeoutMs },
    ).catch(() => null);
  }

  async heldWindows(
    shard: number,
    query: { local: number; metric: number; size: number },
    timeoutMs: number,
  ): Promise<HeldWindow[] | null> {
    try {
      return await ask<ShardMessage, HeldWindow[] | null>(
        this.#shards[shard],
        (reply) => ({ type: "heldWindows", ...query, reply }),
        { timeoutMs },
      );
    } catch {
      return null;
    }
  }

  health(): ShardHealth[] {
    return this.#shards.map((s) => ({
      depth: s.depth,
      restarts: s.restarts,
      failed: s.failure !== null,
    }));
  }

  async stop(): Promise<void> {
    await Promise.all(this.#shards.map((s) => s.stop()));
  }

  #askAll<R>(
    request: (reply: (r: R) => void) => ShardMessage,
    timeoutMs: number,
  ): Promise<(R | null)[]> {
    return Promise.all(
      this.#shards.map((shard) =>
        ask<ShardMessage, R>(shard, request, { timeoutMs }).catch(() => null)
      ),
    );
  }

  #askFlush(i: number): Promise<ShardChanges | null | typeof RESTARTED> {
    return new Promise((resolve) => {
      this.#abandon[i] = () => resolve(RESTARTED);
      const message: ShardMessage = { type: "flush", reply: resolve };
      if (!this.#shards[i].offer(message)) {
        this.#shards[i].send(message).catch(() => resolve(null));
      }
    });
  }

  async #send(shard: number, message: ShardMessage): Promise<void> {
    try {
      await this.#shards[shard].send(message);
    } catch (error) {
      // A shard that failed for good loses its messages; its failure is already reported.
      if (this.#shards[shard].failure === null) throw error;
    }
  }
}

const TIMED_OUT = Symbol("timed out");
const RESTARTED = Symbol("restarted");

/** The promise's value, or TIMED_OUT after `timeoutMs`. */
async function within<T>(promise: Promise<T>, timeoutMs: number): Promise<T | typeof TIMED_OUT> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<typeof TIMED_OUT>((r) => (timer = setTimeout(() => r(TIMED_OUT), timeoutMs))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
