import { groupAllowed } from "../auth/mod.ts";
import type { Writer } from "../auth/mod.ts";
import { DEFAULT_GROUP, refuseFurther } from "./readings/mod.ts";
import type { ParsedReadings } from "./readings/mod.ts";

/** Where ingest learns which group a sensor is in: the router, a flush behind the log. */
export interface GroupSource {
  groupOf(id: string): string | undefined;
}

/**
 * Which group each sensor belongs to, as far as ingest can know: a key
 * scoped to some groups may write their sensors and new ones, but not a
 * sensor that is in another group, which a reading declaring the key's own
 * group would otherwise move (taking it, its history and its attention out
 * of the group that owns it). The router knows each sensor's group once its
 * shard has reported it; readings taken since are claims that stand until
 * the router agrees, or for `pendingMs` (an append that failed).
 */
export class SensorGroups {
  readonly #source: GroupSource;
  readonly #pendingMs: number;
  readonly #now: () => number;
  /** Sensor id → group of readings taken whose group the router does not show yet. */
  readonly #claims = new Map<string, { group: string; at: number }>();
  #settledSize = 0;
  /** Readings refused because their sensor is in a group the writer's key may not write. */
  refused = 0;

  constructor(source: GroupSource, options: { pendingMs?: number; now?: () => number } = {}) {
    this.#source = source;
    this.#pendingMs = options.pendingMs ?? 60_000;
    this.#now = options.now ?? Date.now;
  }

  /** Claims not yet confirmed by the router. */
  get pending(): number {
    return this.#claims.size;
  }

  /** The group sensor `id` is in: the newest claim, else the router's; undefined for a new one. */
  groupOf(id: string): string | undefined {
    const claim = this.#claims.get(id);
    if (claim !== undefined) {
      const known = this.#source.groupOf(id);
      if (known === claim.group || claim.at < this.#now() - this.#pendingMs) {
        this.#claims.delete(id);
        return known;
      }
      return claim.group;
    }
    return this.#source.groupOf(id);
  }

  /** Refuses a scoped writer's readings of sensors that are in a group outside its key's. */
  keepOwn(parsed: ParsedReadings, writer: Writer | null): ParsedReadings {
    if (!writer || writer.groups.includes("*")) return parsed;
    const { block } = parsed;
    const strings = block.strings;
    // Per string index of a sensor id: its refusal, or null once allowed.
    const verdict: (string | null | undefined)[] = new Array(strings.length);
    return refuseFurther(parsed, (row) => {
      const s = block.sensor[row];
      let v = verdict[s];
      if (v === undefined) {
        const group = this.groupOf(strings[s]);
        v = verdict[s] = group === undefined || groupAllowed(writer.groups, group)
          ? null
          : `sensor "${strings[s]}" is in group "${group}", which this key may not write`;
      }
      if (v !== null) this.refused++;
      return v;
    });
  }

  /** Notes the groups of readings taken (every writer's), where the router shows another. */
  claim(taken: ParsedReadings): void {
    const { block } = taken;
    const strings = block.strings;
    const now = this.#now();
    for (let row = 0; row < block.length; row++) {
      this.#claim(strings[block.sensor[row]], strings[block.group[row]] || DEFAULT_GROUP, now);
    }
    if (this.#claims.size > 2 * this.#settledSize + 1024) this.#settle(now);
  }

  /** `claim` of one reading of sensor `id` in `group` ("" for the default group). */
  claimSensor(id: string, group: string): void {
    const now = this.#now();
    this.#claim(id, group || DEFAULT_GROUP, now);
    if (this.#claims.size > 2 * this.#settledSize + 1024) this.#settle(now);
  }

  /** Why `writer` may not write sensor `id` (in the group it is in), or null. */
  refusal(id: string, writer: Writer | null): string | null {
    if (!writer || writer.groups.includes("*")) return null;
    const group = this.groupOf(id);
    if (group === undefined || groupAllowed(writer.groups, group)) return null;
    this.refused++;
    return `sensor "${id}" is in group "${group}", which this key may not write`;
  }

  #claim(id: string, group: string, now: number): void {
    if (this.#claims.get(id)?.group === group) return;
    if (this.#source.groupOf(id) === group) {
      this.#claims.delete(id);
      return;
    }
    this.#claims.set(id, { group, at: now });
  }

  /** Lets go of the claims the router confirms and of those past `pendingMs`. */
  #settle(now: number): void {
    for (const [id, claim] of this.#claims) {
      if (claim.at < now - this.#pendingMs || this.#source.groupOf(id) === claim.group) {
        this.#claims.delete(id);
      }
    }
    this.#settledSize = this.#claims.size;
  }
}
