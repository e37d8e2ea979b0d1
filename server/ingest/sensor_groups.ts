import { groupAllowed } from "../auth/mod.ts";
import type { Writer } from "../auth/mod.ts";
import { DEFAULT_GROUP, refuseFurther } from "./readings/mod.ts";
import type { ParsedReadings } from "./readings/mod.ts";

/** Where ingest learns which group a sensor is in: the router, a flush behind the log. */
export interface GroupSource {
  groupOf(id: string): string | undefined;
  /**
   * False while the groups may be behind the log by more than a flush: after a
   * start until the log's tail has been read and flushed, and while a shard
   * is restored and replayed. Absent: always settled.
   */
  settled?(): boolean;
}

/**
 * Which group each sensor belongs to, as far as ingest can know: a key
 * scoped to some groups may write their sensors and new ones, but not a
 * sensor that is in another group, which a reading declaring the key's own
 * group would otherwise move (taking it, its history and its attention out
 * of the group that owns it). The router knows each sensor's group once its
 * shard has reported it; readings taken since are claims that stand until
 * the router agrees, or for `pendingMs` (an append that failed). Agreement is
 * looked for at every report (`reported`), not only when the sensor is
 * looked up: once the router has shown the claimed group, a later group it
 * reports (another MongoDB writer's document) is newer than the claim.
 */
export class SensorGroups {
  readonly #source: GroupSource;
  readonly #pendingMs: number;
  readonly #now: () => number;
  /** Sensor id → group of readings taken whose group the router does not show yet. */
  readonly #claims = new Map<string, { group: string; at: number }>();
  #settledSize = 0;

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

  /**
   * Whether a scoped key's readings can be judged now: not while the groups
   * may be behind the log (see `GroupSource.settled`), when a sensor that
   * moved to another group since the last checkpoint would still show the
   * old one. Keys of every group ("*") and open ingest need no judging.
   */
  mayJudge(writer: Writer | null): boolean {
    return !writer || writer.groups.includes("*") || (this.#source.settled?.() ?? true);
  }

  /**
   * Refuses a scoped writer's readings of sensors that are in a group outside
   * its key's; rows before `fromRow` are not judged (a take-over of an
   * idempotent batch: its first attempt judged them). Throws Busy (503) when
   * it cannot judge yet (`mayJudge`).
   */
  keepOwn(parsed: ParsedReadings, writer: Writer | null, fromRow = 0): ParsedReadings {
    if (!writer || writer.groups.includes("*")) return parsed;
    if (!this.mayJudge(writer)) {
      throw new Deno.errors.Busy(
        "Cannot ingest yet: the server is still reading its log (after a start, or a shard's restart), so it cannot tell which group each sensor is in; send it again shortly",
      );
    }
    const { block } = parsed;
    const strings = block.strings;
    // Per string index of a sensor id: its refusal, or null once allowed.
    const verdict: (string | null | undefined)[] = new Array(strings.length);
    return refuseFurther(parsed, (row) => {
      if (row < fromRow) return null;
      const s = block.sensor[row];
      let v = verdict[s];
      if (v === undefined) v = verdict[s] = this.refusal(strings[s], writer);
      return v;
    });
  }

  /** Notes the groups of readings taken (every writer's), where the router shows another. */
  claim(taken: ParsedReadings): void {
    const { block } = taken;
    const strings = block.strings;
    const now = this.#now();
    // Each sensor once, at its last reading of the batch (the group it ends in).
    const seen = new Uint8Array(strings.length);
    for (let row = block.length - 1; row >= 0; row--) {
      const s = block.sensor[row];
      if (seen[s] === 1) continue;
      seen[s] = 1;
      this.#claim(strings[s], strings[block.group[row]] || DEFAULT_GROUP, now);
    }
    this.#settleWhenGrown(now);
  }

  /** `claim` of one reading of sensor `id` in `group` ("" for the default group). */
  claimSensor(id: string, group: string): void {
    const now = this.#now();
    this.#claim(id, group || DEFAULT_GROUP, now);
    this.#settleWhenGrown(now);
  }

  /**
   * The router has just noted a flush's groups: the claims it agrees with are
   * confirmed and go, so a group it reports after them wins. Without this a
   * claim stood against the router's newer report until it expired.
   */
  reported(): void {
    if (this.#claims.size === 0) return;
    for (const [id, claim] of this.#claims) {
      if (this.#source.groupOf(id) === claim.group) this.#claims.delete(id);
    }
  }

  /** Why `writer` may not write sensor `id` (in the group it is in), or null. */
  refusal(id: string, writer: Writer | null): string | null {
    if (!writer || writer.groups.includes("*")) return null;
    const group = this.groupOf(id);
    if (group === undefined || groupAllowed(writer.groups, group)) return null;
    return `sensor "${id}" is in group "${group}", which this key may not write`;
  }

  #claim(id: string, group: string, now: number): void {
    const claim = this.#claims.get(id);
    if (claim?.group === group) {
      claim.at = now; // a claim written to again stands from its newest reading
      return;
    }
    if (this.#source.groupOf(id) === group) {
      this.#claims.delete(id);
      return;
    }
    this.#claims.set(id, { group, at: now });
  }

  /** Past twice the claims left by the last settling (and 1,024), settles: amortized, bounded. */
  #settleWhenGrown(now: number): void {
    if (this.#claims.size > 2 * this.#settledSize + 1024) this.#settle(now);
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
