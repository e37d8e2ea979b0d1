import type { KnownKeys } from "./known_strings.ts";

/**
 * Readings stored by column, the shape every stage passes along: ingest
 * produces it, the log stores it (as a FlatBuffers IngestBatch), the router
 * splits it by shard. Strings are interned once in `strings`; the columns hold
 * indexes into it. Reading `i` owns values `metricStart[i] .. metricStart[i+1]`.
 */
export interface ReadingBlock {
  readonly length: number;
  readonly strings: readonly string[];
  readonly sensor: Uint32Array;
  /** Index of the group path; the empty string means the default group. */
  readonly group: Uint32Array;
  /** Index of the status; the empty string means none. */
  readonly status: Uint32Array;
  /** Event time, ms since the Unix epoch. */
  readonly timeMs: Float64Array;
  readonly metricCount: Uint8Array;
  /** Prefix sums of `metricCount`, length + 1 entries. */
  readonly metricStart: Uint32Array;
  readonly metric: Uint32Array;
  readonly value: Float64Array;
  /** The verified IngestBatch bytes this block was decoded from, if it is exactly them. */
  readonly encoded?: Uint8Array;
  /**
   * True when the `STAMP_BYTES` before `encoded` in its buffer are free and
   * `encoded` ends that buffer (an ingest body read with room for it): the
   * log stamps it in place (`stampIngestBatchInPlace`) rather than copying it.
   */
  readonly stampRoom?: boolean;
  /**
   * Per string: the router's index of that sensor id when ingest looked it
   * up (-1: none), so the router need not look it up again. A hint: the
   * router uses it only when its id at that index is this string.
   */
  readonly sensorHints?: Int32Array;
  /**
   * `strings` as entries of the decoder's table of known strings (found by
   * their bytes), while its generation holds: what ingest learnt of an id
   * before (well formed, the router's index) is kept there.
   */
  readonly known?: KnownKeys;
  /**
   * Indexes of `strings` whose bytes in `encoded` were not valid UTF-8 (they
   * hold U+FFFD in their place): ingest refuses the readings that use them.
   */
  readonly notUtf8?: readonly number[];
  /**
   * When the server accepted these readings, ms since the Unix epoch, as its
   * source recorded it (a log chunk's `accepted_ms`, a change event's
   * wallTime): the shards' watermark does not move past it, whatever the
   * readings' event times. Absent: no bound (chunks written before it was
   * recorded, blocks handed to the shards directly).
   */
  readonly acceptedMs?: number;
}

/** The group that sensors without one belong to. */
export const DEFAULT_GROUP = "default";

/** Computes `metricStart` from per-reading counts. */
export function prefixSums(counts: Uint8Array): Uint32Array {
  const starts = new Uint32Array(counts.length + 1);
  for (let i = 0; i < counts.length; i++) starts[i + 1] = starts[i] + counts[i];
  return starts;
}

/**
 * Readings `from .. to` of a block as a block of their own, with only the
 * strings they use. Strings are re-indexed through a table, not a Map, and
 * the columns are copied whole: no work per reading beyond array copies.
 */
export function sliceRows(block: ReadingBlock, from: number, to: number): ReadingBlock {
  const remap = new Int32Array(block.strings.length).fill(-1);
  const strings: string[] = [];
  const intern = (old: number): number => {
    let at = remap[old];
    if (at < 0) {
      at = remap[old] = strings.length;
      strings.push(block.strings[old]);
    }
    return at;
  };
  const first = block.metricStart[from], last = block.metricStart[to];
  const sensor = new Uint32Array(to - from), group = new Uint32Array(to - from);
  const status = new Uint32Array(to - from), metric = new Uint32Array(last - first);
  // Strings get indexes in order of first use, as a builder copying the rows would give.
  for (let row = from; row < to; row++) {
    sensor[row - from] = intern(block.sensor[row]);
    group[row - from] = intern(block.group[row]);
    status[row - from] = intern(block.status[row]);
    for (let v = block.metricStart[row]; v < block.metricStart[row + 1]; v++) {
      metric[v - first] = intern(block.metric[v]);
    }
  }
  const metricCount = block.metricCount.slice(from, to);
  return {
    length: to - from,
    strings,
    sensor,
    group,
    status,
    timeMs: block.timeMs.slice(from, to),
    metricCount,
    metricStart: prefixSums(metricCount),
    metric,
    value: block.value.slice(first, last),
  };
}

/**
 * Appends readings column by column, interning strings, with no allocation per
 * reading once the columns have grown. `build()` returns trimmed copies.
 */
export class ReadingBlockBuilder {
  #strings: string[] = [];
  #index = new Map<string, number>();
  #length = 0;
  #values = 0;
  #sensor: Uint32Array;
  #group: Uint32Array;
  #status: Uint32Array;
  #timeMs: Float64Array;
  #metricCount: Uint8Array;
  #metric: Uint32Array;
  #value: Float64Array;
  #open = -1;

  constructor(options: { capacity?: number } = {}) {
    const capacity = Math.max(16, options.capacity ?? 256);
    this.#sensor = new Uint32Array(capacity);
    this.#group = new Uint32Array(capacity);
    this.#status = new Uint32Array(capacity);
    this.#timeMs = new Float64Array(capacity);
    this.#metricCount = new Uint8Array(capacity);
    this.#metric = new Uint32Array(capacity * 4);
    this.#value = new Float64Array(capacity * 4);
  }

  get length(): number {
    return this.#length;
  }

  intern(text: string): number {
    let index = this.#index.get(text);
    if (index === undefined) {
      index = this.#strings.length;
      this.#strings.push(text);
      this.#index.set(text, index);
    }
    return index;
  }

  /** Starts a reading; follow with `addValue` calls for its metrics. */
  begin(sensor: string, group: string, timeMs: number, status = ""): void {
    if (this.#length === this.#sensor.length) this.#growReadings();
    const i = this.#length++;
    this.#sensor[i] = this.intern(sensor);
    this.#group[i] = this.intern(group);
    this.#status[i] = this.intern(status);
    this.#timeMs[i] = timeMs;
    this.#metricCount[i] = 0;
    this.#open = i;
  }

  addValue(metric: string, value: number): void {
    if (this.#open < 0) throw new Error("Cannot add a value: no reading was begun");
    if (this.#metricCount[this.#open] === 255) {
      throw new RangeError("Cannot add a value: a reading holds at most 255 metrics");
    }
    if (this.#values === this.#metric.length) this.#growValues();
    this.#metric[this.#values] = this.intern(metric);
    this.#value[this.#values++] = value;
    this.#metricCount[this.#open]++;
  }

  /** Copies reading `row` of another block. */
  copyRow(block: ReadingBlock, row: number): void {
    const s = block.strings;
    this.begin(s[block.sensor[row]], s[block.group[row]], block.timeMs[row], s[block.status[row]]);
    for (let v = block.metricStart[row]; v < block.metricStart[row + 1]; v++) {
      this.addValue(s[block.metric[v]], block.value[v]);
    }
  }

  build(): ReadingBlock {
    const metricCount = this.#metricCount.slice(0, this.#length);
    return {
      length: this.#length,
      strings: this.#strings.slice(),
      sensor: this.#sensor.slice(0, this.#length),
      group: this.#group.slice(0, this.#length),
      status: this.#status.slice(0, this.#length),
      timeMs: this.#timeMs.slice(0, this.#length),
      metricCount,
      metricStart: prefixSums(metricCount),
      metric: this.#metric.slice(0, this.#values),
      value: this.#value.slice(0, this.#values),
    };
  }

  /** Empties the builder for reuse, keeping its grown columns. */
  reset(): void {
    this.#strings = [];
    this.#index.clear();
    this.#length = 0;
    this.#values = 0;
    this.#open = -1;
  }

  #growReadings(): void {
    const size = this.#sensor.length * 2;
    this.#sensor = grow(this.#sensor, new Uint32Array(size));
    this.#group = grow(this.#group, new Uint32Array(size));
    this.#status = grow(this.#status, new Uint32Array(size));
    this.#timeMs = grow(this.#timeMs, new Float64Array(size));
    this.#metricCount = grow(this.#metricCount, new Uint8Array(size));
  }

  #growValues(): void {
    const size = this.#metric.length * 2;
    this.#metric = grow(this.#metric, new Uint32Array(size));
    this.#value = grow(this.#value, new Float64Array(size));
  }
}

function grow<T extends Uint8Array | Uint32Array | Float64Array>(from: T, to: T): T {
  to.set(from as never);
  return to;
}

/** Builds a block from plain objects; for tests and small callers. */
export function blockFromReadings(
  readings: readonly {
    sensorId: string;
    group?: string;
    timeMs: number;
    status?: string;
    values: Readonly<Record<string, number>>;
  }[],
): ReadingBlock {
  const builder = new ReadingBlockBuilder({ capacity: readings.length });
  for (const r of readings) {
    builder.begin(r.sensorId, r.group ?? "", r.timeMs, r.status ?? "");
    for (const [name, value] of Object.entries(r.values)) builder.addValue(name, value);
  }
  return builder.build();
}
