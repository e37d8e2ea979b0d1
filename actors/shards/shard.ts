import { ShardState } from "./shard_state.ts";
import type { ShardNames } from "./shard_state.ts";
import { DEFAULT_WINDOW_SPEC } from "./event_window_store.ts";
import type { WindowSpec } from "./event_window_store.ts";
import type { ShardImage } from "./shard_image.ts";
import type { ShardMessage } from "./shard_messages.ts";
import type { Behavior } from "../runtime/mod.ts";
import type { MetricsMeta } from "../../protocol/metric_meta.ts";
import { ThresholdTable } from "./threshold_table.ts";

export interface ShardOptions {
  /** Readings in the moving-average window. Default 50. */
  window?: number;
  /** Event-time window sizes and grace. Default 1 s, 10 s, 1 min; 5 s. */
  windowSpec?: WindowSpec;
  /** True after a restart: drop readings until a `restore` message. */
  awaitingReplay?: boolean;
  /** State to start from (a checkpoint), and the checkpoint that saved it. */
  image?: ShardImage | null;
  imageSeq?: number;
  /** Ids and metric names for the flushes; without them they are "" (the shard set fills them in). */
  names?: ShardNames;
  /** Metric metadata: readings are judged by its thresholds (the router's judges). Default: none. */
  metrics?: MetricsMeta;
  /** Flushes hand out views of reused columns (`ShardStateOptions.reuseColumns`). Default false. */
  reuseColumns?: boolean;
}

/**
 * One shard's actor: it owns the state of its sensors, and the only way in is
 * a message. Readings update windows and mark them dirty; a flush hands over
 * what changed since the previous one (latest state per metric) and clears it.
 */
export class ShardBehavior implements Behavior<ShardMessage> {
  readonly #options: ShardOptions;
  readonly #thresholds: ThresholdTable;
  #state: ShardState;
  #awaitingReplay: boolean;

  constructor(options: ShardOptions = {}) {
    // Not the image: once restored its pages (most of a checkpoint's bytes) must be let go.
    this.#options = { ...options, image: null };
    this.#thresholds = new ThresholdTable(options.metrics);
    this.#state = this.#fresh();
    this.#awaitingReplay = options.awaitingReplay ?? false;
    if (options.image) this.#state.restore(options.image, options.imageSeq ?? 0);
  }

  receive(message: ShardMessage): void {
    switch (message.type) {
      case "readings":
        if (!this.#awaitingReplay) this.#state.apply(message.rows, message.from, message.to);
        return;
      case "flush":
        message.reply(this.#state.flush());
        return;
      case "state":
        message.reply(this.#awaitingReplay ? null : this.#state.state());
        return;
      case "checkpoint":
        message.reply(
          this.#awaitingReplay ? null : this.#state.image(message.seq, message.since),
        );
        return;
      case "restore":
        this.#state = this.#fresh();
        if (message.image) this.#state.restore(message.image, message.seq ?? 0);
        this.#awaitingReplay = false;
        return;
      case "remove":
        if (!this.#awaitingReplay) this.#state.remove(message.local);
        return;
      case "heldWindows":
        message.reply(
          this.#awaitingReplay
            ? null
            : this.#state.heldWindows(message.local, message.metric, message.size),
        );
        return;
      default: {
        const unknown: never = message;
        throw new TypeError(`Shard cannot handle ${JSON.stringify(unknown)}`);
      }
    }
  }

  /** Live sensors, metric slots, open windows and bytes held. */
  counts() {
    return this.#state.counts();
  }

  #fresh(): ShardState {
    return new ShardState({
      window: this.#options.window,
      windowSpec: this.#options.windowSpec ?? DEFAULT_WINDOW_SPEC,
      names: this.#options.names,
      thresholds: this.#thresholds.list,
      reuseColumns: this.#options.reuseColumns,
    });
  }
}
