import type { FleetNames } from "../../actors/shards/mod.ts";
import { refuseFurther } from "./readings/mod.ts";
import type { ParsedReadings } from "./readings/mod.ts";
import { liveKeys } from "../../protocol/known_strings.ts";

/** The fleet against its caps (`FleetLimit.stats`). */
export interface FleetStats {
  /** Sensors the router has (those on their way in the log not yet). */
  sensors: number;
  maxSensors: number;
  metricNames: number;
  maxMetricNames: number;
  /** Readings refused because they would add a sensor, or a metric name, past the cap. */
  refusedNewSensors: number;
  refusedNewMetricNames: number;
  /** Values the router dropped past the metric-name cap (documents of other MongoDB writers). */
  droppedValues: number;
}

export interface FleetLimitOptions {
  /** Most sensors the fleet may hold (`--max-sensors`). */
  maxSensors: number;
  /** How long a name taken but not yet in the router is counted (an append may have failed). */
  pendingMs?: number;
  /**
   * False while the router's names may be behind the source (a start's log
   * tail, a MongoDB load or rebuild's refill: the router starts over and its
   * counts are partial). Absent: always settled.
   */
  settled?: () => boolean;
  now?: () => number;
}

/** A reading adding a name while the router's names may be behind the source: 503, later. */
export class FleetNotSettled extends Deno.errors.Busy {
  constructor() {
    super(
      "Cannot take a new sensor or metric name yet: the server is still reading its source (after a start, or while it reloads it), so it cannot count the fleet against its caps; send it again shortly",
    );
  }
}

/**
 * Keeps the fleet within `--max-sensors` sensors and the router's cap on
 * metric names, at the edge: a reading that would add a sensor or a metric
 * name past its cap is refused with a reason, so no writer grows the
 * server's memory without bound, and the router never has to drop a value
 * it was given after ingest acknowledged it. Names taken but not in the
 * router yet (in the log, on their way) are pending and count; they are let
 * go once the router knows them, or after `pendingMs`.
 *
 * While the router's names may be behind the source (`settled`), its counts
 * say nothing of the fleet: a reading that would add a name throws Busy
 * (503, an unacknowledged MQTT publish) rather than be judged against them;
 * readings of names the router has are taken, since they add nothing.
 */
export class FleetLimit {
  readonly maxSensors: number;
  readonly #names: FleetNames;
  readonly #pendingMs: number;
  readonly #now: () => number;
  readonly #settled: () => boolean;
  readonly #sensors: Pending;
  readonly #metrics: Pending;
  /** Readings refused because they would add a sensor past the cap. */
  refusedSensors = 0;
  /** Readings refused because they would add a metric name past the cap. */
  refusedMetrics = 0;

  constructor(names: FleetNames, options: FleetLimitOptions) {
    this.#names = names;
    this.maxSensors = options.maxSensors;
    this.#pendingMs = options.pendingMs ?? 60_000;
    this.#now = options.now ?? Date.now;
    this.#settled = options.settled ?? (() => true);
    this.#sensors = new Pending((id) => names.hasSensor(id), () => names.sensorCount);
    this.#metrics = new Pending((name) => names.hasMetric(name), () => names.metricCount);
  }

  /**
   * Resolves true once the router's names are whole again (`settled`), false
   * if not within `maxMs`: a request refused for it can wait out a short
   * load (an empty collection's) rather than be answered 503.
   */
  async settledWithin(maxMs: number): Promise<boolean> {
    const deadline = this.#now() + maxMs;
    while (!this.#settled()) {
      if (this.#now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 10));
    }
    return true;
  }

  /** For /healthz and /metrics: the fleet against its caps, and what they refused. */
  stats(): FleetStats {
    const names = this.#names;
    return {
      sensors: names.sensorCount,
      maxSensors: this.maxSensors,
      metricNames: names.metricCount,
      maxMetricNames: names.maxMetrics,
      refusedNewSensors: this.refusedSensors,
      refusedNewMetricNames: this.refusedMetrics,
      droppedValues: names.droppedValues,
    };
  }

  /**
   * Takes one reading of `sensorId` with `metrics`, or says why it would pass
   * a cap (nothing taken). Its new names are pending until the router has them.
   * Throws Busy for a new name while the router is behind (see `settled`).
   */
  admit(sensorId: string, metrics: readonly string[]): string | null {
    const reason = this.#sensorRefusal(sensorId);
    if (reason !== null) {
      this.refusedSensors++;
      return reason;
    }
    let added = 0;
    for (const name of metrics) {
      if (this.#knowsMetric(name)) continue;
      const reason = this.#metricRefusal(name, added++);
      if (reason !== null) {
        this.refusedMetrics++;
        return reason;
      }
    }
    const now = this.#now();
    if (!this.#names.hasSensor(sensorId)) this.#sensors.add(sensorId, now);
    for (const name of metrics) if (!this.#knowsMetric(name)) this.#metrics.add(name, now);
    return null;
  }

  /**
   * Refuses the readings of a parsed batch that would pass a cap and takes
   * the others, in order: with room for n more sensors, the first n new ones
   * of a batch are taken. Rows before `fromRow` are not judged (a take-over
   * of an idempotent batch: they are in the log already, or were refused).
   * Throws Busy (nothing taken) for a new name while the router is behind.
   */
  keep(parsed: ParsedReadings, fromRow = 0): ParsedReadings {
    const { block } = parsed;
    const s = block.strings;
    // Per string index, one table per role (a string may be a sensor id in one
    // reading and a metric name in another): 1 when known or taken; a sensor's
    // refusal is kept too (the fleet only fills up).
    const sensorVerdict: (1 | string | undefined)[] = new Array(s.length);
    const metricKnown = new Uint8Array(s.length);
    const now = this.#now();
    // The router's index of each known id, handed on with the block: the router looks it up once.
    const names = this.#names;
    const hints = names.sensorIndex ? new Int32Array(s.length).fill(-1) : undefined;
    // The router's index of an id the decoder's table knows is kept there, and only
    // checked (the router's id at it is this string) rather than looked up again.
    const keys = hints && names.sensorId ? liveKeys(block.known) : undefined;
    const memo = keys === undefined ? undefined : block.known!.table.hints;
    // Columns in locals: a property load per row on a block of many shapes is a slow one.
    const { sensor: sensors, metric: metrics, metricStart } = block;
    // The row's judge is a method with its state in an object of one shape: a closure
    // made per batch, capturing all of it, was compiled again every few batches.
    const state = new KeepState(
      s,
      fromRow,
      sensorVerdict,
      metricKnown,
      now,
      hints,
      keys,
      memo,
      sensors,
      metrics,
      metricStart,
    );
    const kept = refuseFurther(parsed, (row) => this.#judgeRow(row, state));
    // Rows refused: the kept ones are a new block with its own string indexes.
    return hints && kept.block === block
      ? { block: { ...block, sensorHints: hints }, refused: kept.refused }
      : kept;
  }

  /** Why row `row` of `keep`'s batch is refused, or null (its new names then taken). */
  #judgeRow(row: number, state: KeepState): string | null {
    const { s, fromRow, sensorVerdict, metricKnown, now, hints, keys, memo } = state;
    const { sensors, metrics, metricStart } = state;
    const names = this.#names;
    if (row < fromRow) return null;
    const sensor = sensors[row];
    if (sensorVerdict[sensor] === undefined) {
      // Known to the router: nothing to judge or take (one lookup per distinct id).
      const key = keys === undefined ? -1 : keys[sensor];
      const index = key >= 0
        ? this.#knownIndex(memo!, key, s[sensor])
        : hints
        ? names.sensorIndex!(s[sensor])
        : names.hasSensor(s[sensor])
        ? 0
        : -1;
      if (index >= 0) {
        sensorVerdict[sensor] = 1;
        if (hints) hints[sensor] = index;
      } else {
        const reason = this.#sensorRefusal(s[sensor]);
        if (reason !== null) sensorVerdict[sensor] = reason;
      }
    }
    const v = sensorVerdict[sensor];
    if (typeof v === "string") {
      this.refusedSensors++;
      return v;
    }
    const from = metricStart[row], to = metricStart[row + 1];
    let added = 0;
    for (let i = from; i < to; i++) {
      const metric = metrics[i];
      if (metricKnown[metric] === 1) continue;
      if (this.#knowsMetric(s[metric])) {
        metricKnown[metric] = 1;
        continue;
      }
      const reason = this.#metricRefusal(s[metric], added++);
      if (reason !== null) {
        this.refusedMetrics++;
        return reason;
      }
    }
    // Every cap has room: this reading's new names are taken.
    if (v === undefined) {
      // Not known to the router when judged above (this request runs without a pause).
      sensorVerdict[sensor] = 1;
      this.#sensors.add(s[sensor], now);
    }
    for (let i = from; i < to; i++) {
      const metric = metrics[i];
      if (metricKnown[metric] !== 1) {
        metricKnown[metric] = 1;
        this.#metrics.add(s[metric], now);
      }
    }
    return null;
  }

  /**
   * A take-over of an idempotent batch: its first attempt appended `appended`
   * of the rows before `fromRow` (the record's `through`) and may have refused
   * others for a cap. Those it appended are in the log, so the router knows
   * their sensors and names once it has read that far; a row with a sensor or
   * name the router does not know was refused then. When the counts agree
   * (the router has read the log that far), those rows are refused again, so
   * the answer says what the log holds; when they do not, the rows are left
   * unjudged. Then the rows from `fromRow` on are judged as `keep` does.
   * While the router is behind, a row it does not know may be one appended
   * and not routed yet: that waits (Busy) too.
   */
  keepTakenOver(parsed: ParsedReadings, fromRow: number, appended: number): ParsedReadings {
    const { block } = parsed;
    const s = block.strings;
    const unknown = new Uint8Array(fromRow);
    let unknownRows = 0;
    for (let row = 0; row < fromRow; row++) {
      let missing = !this.#names.hasSensor(s[block.sensor[row]]);
      for (let i = block.metricStart[row]; !missing && i < block.metricStart[row + 1]; i++) {
        missing = !this.#names.hasMetric(s[block.metric[i]]);
      }
      if (missing) unknownRows += unknown[row] = 1;
    }
    if (unknownRows > 0) this.#waitUnlessSettled();
    const judged = unknownRows > 0 && fromRow - unknownRows === appended
      ? refuseFurther(
        parsed,
        (row) =>
          unknown[row] === 1
            ? "refused when its batch was first applied: a new sensor or metric name past the fleet's caps (--max-sensors)"
            : null,
      )
      : parsed;
    // The rows refused above came before `fromRow`: it moves back by as many.
    return this.keep(judged, fromRow - (judged === parsed ? 0 : unknownRows));
  }

  /** Sensor `id`'s index in the router, from `memo[key]` when the router still has it there. */
  #knownIndex(memo: Int32Array, key: number, id: string): number {
    const kept = memo[key];
    if (kept >= 0 && this.#names.sensorId!(kept) === id) return kept;
    return memo[key] = this.#names.sensorIndex!(id);
  }

  #knowsMetric(name: string): boolean {
    return this.#names.hasMetric(name) || this.#metrics.has(name);
  }

  /** A new name cannot be counted against partial counts: Busy until they are whole again. */
  #waitUnlessSettled(): void {
    if (!this.#settled()) throw new FleetNotSettled();
  }

  #sensorRefusal(id: string): string | null {
    if (this.#names.hasSensor(id) || this.#sensors.has(id)) return null;
    this.#waitUnlessSettled();
    const max = this.maxSensors;
    if (this.#names.sensorCount + this.#sensors.size < max) return null;
    this.#sensors.settleSoon(this.#now(), this.#pendingMs);
    if (this.#names.sensorCount + this.#sensors.size < max) return null;
    return `sensor "${id}" is new and the fleet is full: the server keeps at most ${max} sensors (--max-sensors)`;
  }

  /** Why new metric name `name` would pass the cap with `added` new ones before it in its reading. */
  #metricRefusal(name: string, added: number): string | null {
    this.#waitUnlessSettled();
    const max = this.#names.maxMetrics;
    if (this.#names.metricCount + this.#metrics.size + added < max) return null;
    this.#metrics.settleSoon(this.#now(), this.#pendingMs);
    if (this.#names.metricCount + this.#metrics.size + added < max) return null;
    return `metric name "${name}" is new and the server keeps at most ${max} metric names`;
  }
}

/** What `FleetLimit.keep` judges one batch's rows with (one shape for every batch). */
class KeepState {
  constructor(
    readonly s: readonly string[],
    readonly fromRow: number,
    readonly sensorVerdict: (1 | string | undefined)[],
    readonly metricKnown: Uint8Array,
    readonly now: number,
    readonly hints: Int32Array | undefined,
    readonly keys: Int32Array | undefined,
    readonly memo: Int32Array | undefined,
    readonly sensors: Uint32Array,
    readonly metrics: Uint32Array,
    readonly metricStart: Uint32Array,
  ) {}
}

/** Names taken and not yet known to the router, with when they were taken. */
class Pending {
  readonly #known: (name: string) => boolean;
  readonly #knownCount: () => number;
  readonly #takenAt = new Map<string, number>();
  /** Size after the last `settle`: past twice that, adding settles (amortized, bounded). */
  #settledSize = 0;
  #settledAt = -Infinity;
  #knownAtSettle = -1;

  constructor(known: (name: string) => boolean, knownCount: () => number) {
    this.#known = known;
    this.#knownCount = knownCount;
  }

  get size(): number {
    return this.#takenAt.size;
  }

  has(name: string): boolean {
    return this.#takenAt.has(name);
  }

  add(name: string, now: number): void {
    this.#takenAt.set(name, now);
    if (this.#takenAt.size > 2 * this.#settledSize + 1024) this.settle(-Infinity);
  }

  /** Lets go of the names the router knows now, and of those taken before `before`. */
  settle(before: number): void {
    for (const [name, at] of this.#takenAt) {
      if (at < before || this.#known(name)) this.#takenAt.delete(name);
    }
    this.#settledSize = this.#takenAt.size;
    this.#knownAtSettle = this.#knownCount();
  }

  /**
   * `settle`s names older than `pendingMs`, unless that was done less than
   * 100 ms ago and the router has learnt no name since (or there are many to
   * walk): at a full cap every new name asks, and a flood of them must not
   * walk every pending name each.
   */
  settleSoon(now: number, pendingMs: number): void {
    if (
      now - this.#settledAt < 100 &&
      (this.#knownCount() === this.#knownAtSettle || this.#takenAt.size > 1024)
    ) return;
    this.#settledAt = now;
    this.settle(now - pendingMs);
  }
}
