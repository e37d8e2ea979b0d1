/**
 * Who a session counts against: its client address and, when authenticated,
 * its token subject (e.g. `["address:203.0.113.9", "token:alice"]`).
 */
export type Owners = readonly string[];

export interface TopicTableOptions {
  /** Topics at once, pinned ones included. */
  maxTopics: number;
  /** Topics one owner (address or token) may hold and still make a new one: its share. */
  share: number;
}

/** A topic made or found for a session, with the topics evicted to make room; or why not. */
export type Acquired<T> = { value: T; evicted: T[] } | { refused: string };

interface Entry<T, M> {
  readonly key: string;
  readonly value: T;
  readonly bytes: number;
  readonly pinned: boolean;
  /** In join order: the first member's owners are the ones the topic counts against. */
  readonly members: Map<M, Owners>;
  charge: Owners;
  /** When the last member left; meaningful only while `members` is empty. */
  idleSince: number;
}

/**
 * Which topics (distinct subscription sets) exist, and who may make another.
 * A topic counts against the owners of its oldest session, or, once idle,
 * of its last one. An owner at its share makes room only by dropping its own
 * idle topics. When the table is full, idle topics go first (their rings only
 * serve resumes, which then get a fresh snapshot), then an active topic of the
 * owner that holds the most, but only while it holds at least two more than
 * the one asking: a viewer under its share is never refused because others
 * hoard, and two heavy holders cannot evict each other back and forth.
 * Pure bookkeeping: the hub owns the topics' streams and sessions.
 */
export class TopicTable<T, M> {
  readonly #maxTopics: number;
  readonly #share: number;
  readonly #entries = new Map<string, Entry<T, M>>();
  /** Idle, unpinned entries in the order they became idle. */
  readonly #idle = new Set<Entry<T, M>>();
  readonly #byOwner = new Map<string, Set<Entry<T, M>>>();
  /** Bytes of all topic keys. */
  keyBytes = 0;
  /** Idle topics dropped to make room, and active ones taken from the biggest holder. */
  idleEvictions = 0;
  activeEvictions = 0;

  constructor(options: TopicTableOptions) {
    this.#maxTopics = options.maxTopics;
    this.#share = options.share;
  }

  get size(): number {
    return this.#entries.size;
  }

  get idleCount(): number {
    return this.#idle.size;
  }

  /** The topics, in creation order. */
  *values(): IterableIterator<T> {
    for (const entry of this.#entries.values()) yield entry.value;
  }

  /** The topics with their number of sessions, in creation order. */
  *topics(): IterableIterator<{ value: T; members: number }> {
    for (const entry of this.#entries.values()) {
      yield { value: entry.value, members: entry.members.size };
    }
  }

  /** How many topics count against `owner`. */
  held(owner: string): number {
    return this.#byOwner.get(owner)?.size ?? 0;
  }

  /** Adds a topic that is never evicted nor expired and counts against no one (the everything-topic). */
  pin(key: string, value: T, bytes: number): void {
    const entry = this.#make(key, value, { bytes, pinned: true, owners: [] });
    entry.idleSince = 0;
  }

  /**
   * Puts `member` on the topic `key`, making it with `make` if it does not
   * exist and the rules allow. Nothing changes when refused.
   */
  acquire(
    key: string,
    member: M,
    options: { owners: Owners; bytes: number; now: number; make: () => T },
  ): Acquired<T> {
    let entry = this.#entries.get(key);
    const evicted: T[] = [];
    if (!entry) {
      const plan = this.#plan(options.owners);
      if (typeof plan === "string") return { refused: plan };
      for (const victim of plan) {
        if (victim.members.size === 0) this.idleEvictions++;
        else this.activeEvictions++;
        evicted.push(this.#remove(victim));
      }
      entry = this.#make(key, options.make(), { ...options, pinned: false });
    }
    if (entry.members.size === 0) {
      this.#idle.delete(entry);
      this.#recharge(entry, options.owners);
    }
    entry.members.set(member, options.owners);
    return { value: entry.value, evicted };
  }

  /** Takes `member` off topic `key`; the topic stays, idle once it has no members. */
  leave(key: string, member: M, now: number): void {
    const entry = this.#entries.get(key);
    if (!entry?.members.delete(member)) return;
    const first = entry.members.values().next();
    if (!first.done) this.#recharge(entry, first.value);
    else if (!entry.pinned) {
      entry.idleSince = now;
      this.#idle.add(entry);
    }
  }

  /** Drops the topics idle for longer than `maxIdleMs` and returns them. */
  expire(now: number, maxIdleMs: number): T[] {
    const dropped: T[] = [];
    for (const entry of this.#idle) {
      if (now - entry.idleSince <= maxIdleMs) break; // the rest became idle later
      dropped.push(this.#remove(entry));
    }
    return dropped;
  }

  /** Drops every topic, pinned ones included, and returns them. */
  clear(): T[] {
    return [...this.#entries.values()].map((entry) => this.#remove(entry));
  }

  /** The topics to evict so that `owners` may make one more, or why it may not. */
  #plan(owners: Owners): Entry<T, M>[] | string {
    const plan = new Set<Entry<T, M>>();
    const held = (owner: string) => {
      let n = 0;
      for (const entry of this.#byOwner.get(owner) ?? []) if (!plan.has(entry)) n++;
      return n;
    };
    const own = () => owners.flatMap((owner) => [...(this.#byOwner.get(owner) ?? [])]);
    for (const owner of owners) {
      while (held(owner) >= this.#share) {
        const victim = this.#oldestIdle(this.#byOwner.get(owner)!, plan);
        if (!victim) {
          return `this ${owner.split(":")[0]} already holds ${held(owner)} subscription sets ` +
            `(its share of --max-topics): unsubscribe, replace or close one first`;
        }
        plan.add(victim);
      }
    }
    while (this.#entries.size - plan.size >= this.#maxTopics) {
      const victim = this.#oldestIdle(own(), plan) ?? this.#oldestIdle(this.#idle, plan) ??
        this.#hoarded(owners, plan, held);
      if (!victim) {
        return `the server already serves ${this.#maxTopics} distinct subscription sets ` +
          `(--max-topics), none idle and none held by a client with more than this one`;
      }
      plan.add(victim);
    }
    return [...plan];
  }

  #oldestIdle(entries: Iterable<Entry<T, M>>, plan: Set<Entry<T, M>>): Entry<T, M> | null {
    let oldest: Entry<T, M> | null = null;
    for (const entry of entries) {
      if (entry.members.size > 0 || entry.pinned || plan.has(entry)) continue;
      if (oldest === null || entry.idleSince < oldest.idleSince) oldest = entry;
    }
    return oldest;
  }

  /**
   * An active topic of the owner that holds the most, if it holds at least
   * two more than `owners` do: the one with the fewest sessions.
   */
  #hoarded(
    owners: Owners,
    plan: Set<Entry<T, M>>,
    held: (owner: string) => number,
  ): Entry<T, M> | null {
    const mine = Math.max(0, ...owners.map(held));
    const heavy = [...this.#byOwner.keys()]
      .filter((owner) => !owners.includes(owner))
      .map((owner) => ({ owner, count: held(owner) }))
      .filter(({ count }) => count > mine + 1)
      .sort((a, b) => b.count - a.count);
    for (const { owner } of heavy) {
      let victim: Entry<T, M> | null = null;
      for (const entry of this.#byOwner.get(owner)!) {
        if (entry.pinned || plan.has(entry)) continue;
        if (victim === null || entry.members.size < victim.members.size) victim = entry;
      }
      if (victim) return victim;
    }
    return null;
  }

  #make(
    key: string,
    value: T,
    options: { bytes: number; pinned: boolean; owners: Owners },
  ): Entry<T, M> {
    const entry: Entry<T, M> = {
      key,
      value,
      bytes: options.bytes,
      pinned: options.pinned,
      members: new Map(),
      charge: [],
      idleSince: 0,
    };
    this.#entries.set(key, entry);
    this.keyBytes += entry.bytes;
    if (!entry.pinned) this.#recharge(entry, options.owners);
    return entry;
  }

  #remove(entry: Entry<T, M>): T {
    this.#entries.delete(entry.key);
    this.#idle.delete(entry);
    this.#recharge(entry, []);
    this.keyBytes -= entry.bytes;
    return entry.value;
  }

  /** Moves what `entry` counts against to `owners`. */
  #recharge(entry: Entry<T, M>, owners: Owners): void {
    if (entry.pinned) return;
    if (
      owners.length === entry.charge.length && owners.every((o, i) => o === entry.charge[i])
    ) return;
    for (const owner of entry.charge) {
      const entries = this.#byOwner.get(owner)!;
      entries.delete(entry);
      if (entries.size === 0) this.#byOwner.delete(owner);
    }
    entry.charge = owners;
    for (const owner of owners) {
      let entries = this.#byOwner.get(owner);
      if (!entries) this.#byOwner.set(owner, entries = new Set());
      entries.add(entry);
    }
  }
}
