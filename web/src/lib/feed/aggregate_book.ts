// The group aggregates the feed pushes, kept per group, window size and
// metric, with listeners per (group, window). Pure: fed only by events.
import type { GroupAggregateEntry, ServerFrame } from "@pulseboard/protocol";

export interface BookAggregate extends GroupAggregateEntry {
  /** Server time of the frame that carried it. */
  asOfMs: number;
}

/** `asOfMs`: server time of the frame that last changed them (also when none are left). */
type Listener = (aggregates: BookAggregate[], windowMs: number, asOfMs: number) => void;

export class AggregateBook {
  windowSizesMs: number[] = [];
  readonly #metricNames = new Map<number, string>();
  /** "group|size" → metric → latest aggregate. */
  readonly #byGroup = new Map<string, Map<number, BookAggregate>>();
  readonly #listeners = new Map<string, Set<Listener>>();

  /** Takes in a snapshot or delta the sensor store accepted. */
  apply(event: ServerFrame): void {
    if (event.type !== "snapshot" && event.type !== "delta") return;
    if (event.type === "snapshot") {
      this.windowSizesMs = event.windowSizesMs;
      this.#byGroup.clear();
      this.#metricNames.clear();
    }
    for (const m of event.metrics) this.#metricNames.set(m.index, m.name);
    const touched = new Set<string>();
    for (const a of event.aggregates) {
      const key = `${a.group}|${a.size}`;
      let metrics = this.#byGroup.get(key);
      if (!metrics) this.#byGroup.set(key, metrics = new Map());
      // No sensors: the group has no such aggregate any more (its sensors are gone).
      if (a.sensors === 0) metrics.delete(a.metric);
      else metrics.set(a.metric, { ...a, asOfMs: event.serverTimeMs });
      touched.add(key);
    }
    for (const key of touched) this.#emit(key, event.serverTimeMs);
  }

  /** The metric name for an index, if the feed has named it. */
  metricName(index: number): string | undefined {
    return this.#metricNames.get(index);
  }

  /**
   * Calls `listener` with the group's aggregates for windows of `windowMs`:
   * at once if the book has them, then on every change. Returns a function
   * that stops it.
   */
  watch(group: string, windowMs: number, listener: Listener): () => void {
    const id = `${group}@${windowMs}`;
    let listeners = this.#listeners.get(id);
    if (!listeners) this.#listeners.set(id, listeners = new Set());
    listeners.add(listener);
    const current = this.#byGroup.get(`${group}|${this.windowSizesMs.indexOf(windowMs)}`);
    if (current && current.size > 0) {
      const aggregates = [...current.values()];
      listener(aggregates, windowMs, Math.max(...aggregates.map((a) => a.asOfMs)));
    }
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0) this.#listeners.delete(id);
    };
  }

  #emit(key: string, asOfMs: number): void {
    // The group may hold "|": the size is after the last one.
    const at = key.lastIndexOf("|");
    const group = key.slice(0, at);
    const windowMs = this.windowSizesMs[Number(key.slice(at + 1))];
    const listeners = this.#listeners.get(`${group}@${windowMs}`);
    if (!listeners) return;
    const aggregates = [...this.#byGroup.get(key)!.values()];
    for (const listener of listeners) listener(aggregates, windowMs, asOfMs);
  }
}
