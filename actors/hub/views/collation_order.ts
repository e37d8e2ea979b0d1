import { compareNames, compareNamesDirect, naturalKey } from "./natural_key.ts";

/**
 * Items (small dense numbers: sensor indexes, group numbers) listed in the
 * order of their names (`naturalKey`, then code units, then the item), with
 * each item's rank. Items come and go over time: `commit` sorts only the new
 * ones and merges them in, so 1,000 new sensors among 100,000 cost about
 * 17,000 string comparisons and one pass, not a sort of all of them.
 */
export class CollationOrder {
  /** Names by another rule than `naturalKey` (e.g. code units), or null. */
  readonly #byName: ((a: string, b: string) => number) | null;
  #names: (string | undefined)[] = [];
  /** Each item's `naturalKey`, made when it is first compared by key (a checked saved order never is). */
  #keys: (string | undefined)[] = [];
  /** Items in order (the first `size` entries). */
  #order = new Uint32Array(64);
  #size = 0;
  /** Rank of every item in `#order`; meaningless for absent items. */
  #rank = new Uint32Array(64);
  #added: number[] = [];
  #removed = 0;
  /** Names in their likely order (a saved order), for the next commit; see `expect`. */
  #expected: Uint32Array | null = null;
  /** Items placed by a sort so far (not those taken in an expected order). */
  sortedItems = 0;

  /** `compare`: orders names instead of `naturalKey` (then code units), ties by item. */
  constructor(options: { compare?: (a: string, b: string) => number } = {}) {
    this.#byName = options.compare ?? null;
  }

  /** Items listed. Pending changes count only after `commit`. */
  get size(): number {
    return this.#size;
  }

  /** The items in order; valid until the next `commit`. */
  get order(): Uint32Array {
    return this.#order.subarray(0, this.#size);
  }

  has(item: number): boolean {
    return this.#names[item] !== undefined;
  }

  name(item: number): string | undefined {
    return this.#names[item];
  }

  /** Every item's rank, indexed by item (valid for listed items, until the next `commit`). */
  get ranks(): Uint32Array {
    return this.#rank;
  }

  /** Rank of a listed item (0 first), as of the last `commit`. */
  rank(item: number): number {
    return this.#rank[item];
  }

  /** Lists `item` under `name` from the next `commit`; a listed item is renamed. */
  add(item: number, name: string): void {
    if (this.#names[item] !== undefined) {
      if (this.#names[item] === name) return;
      this.remove(item);
    }
    this.#names[item] = name;
    this.#keys[item] = undefined;
    this.#added.push(item);
  }

  /** Unlists `item` from the next `commit`. */
  remove(item: number): void {
    if (this.#names[item] === undefined) return;
    this.#names[item] = undefined;
    this.#keys[item] = undefined;
    this.#removed++;
  }

  /**
   * Tells the next commit the order its first adds are likely in (the items,
   * as `order` listed them before a restart: sensor indexes are the router's,
   * which a checkpoint keeps). It is checked, not trusted: a commit into an
   * empty order takes the expected items that were added, in the given order,
   * if each pair in a row compares in order (one pass, not a sort of them
   * all); added items not among them are sorted and merged in. If the check
   * fails, everything is sorted as without it.
   */
  expect(items: Uint32Array): void {
    this.#expected = items;
  }

  /** Applies the adds and removes since the last commit; true when the order changed. */
  commit(): boolean {
    const expected = this.#expected;
    this.#expected = null;
    if (this.#added.length === 0 && this.#removed === 0) return false;
    // An item added and then removed (or renamed) before the commit is dropped
    // here; an item removed and re-added is both in the order and in #added.
    // Pending items are marked in a byte array: a Set of a restart's 100,000
    // cost more than the rest of a commit taken in an expected order.
    let top = 0;
    for (const item of this.#added) if (item >= top) top = item + 1;
    const marked = new Uint8Array(top);
    const pending: number[] = [];
    for (const item of this.#added) {
      if (this.#names[item] === undefined || marked[item] === 1) continue;
      marked[item] = 1;
      pending.push(item);
    }
    let order = this.#order;
    let kept = 0;
    let added: number[];
    const found = expected && this.#size === 0
      ? this.#inExpectedOrder(pending, { marked, expected })
      : null;
    if (found) {
      if (found.length > order.length) order = new Uint32Array(found.length);
      order.set(found);
      kept = found.length;
      // The pending items it did not list (still marked).
      added = kept === pending.length ? [] : pending.filter((item) => marked[item] === 1);
    } else {
      added = pending;
      for (let i = 0; i < this.#size; i++) {
        const item = order[i];
        if (this.#names[item] !== undefined && !(item < top && marked[item] === 1)) {
          order[kept++] = item;
        }
      }
    }
    added.sort(this.#compare);
    this.sortedItems += added.length;
    const size = kept + added.length;
    let next = order;
    if (size > order.length) next = new Uint32Array(Math.max(size, order.length * 2));
    this.#merge(order.subarray(0, kept), added, next);
    this.#order = next;
    this.#size = size;
    let maxItem = 0;
    for (let i = 0; i < size; i++) if (next[i] > maxItem) maxItem = next[i];
    if (maxItem >= this.#rank.length) {
      this.#rank = new Uint32Array(Math.max(maxItem + 1, this.#rank.length * 2));
    }
    for (let i = 0; i < size; i++) this.#rank[next[i]] = i;
    this.#added = [];
    this.#removed = 0;
    return true;
  }

  /**
   * The pending items listed in `expected`, in its order (unmarking each),
   * if that order is strictly increasing (so also without duplicates); else
   * null. Items not pending (sensors gone since) are skipped: dropping items
   * keeps an order.
   */
  #inExpectedOrder(
    pending: number[],
    o: { marked: Uint8Array; expected: Uint32Array },
  ): Uint32Array | null {
    const { marked, expected } = o;
    const items = new Uint32Array(Math.min(expected.length, pending.length));
    let count = 0;
    for (let i = 0; i < expected.length; i++) {
      const item = expected[i];
      if (item >= marked.length || marked[item] === 0) continue;
      marked[item] = 0; // an item listed twice is taken once: the next is skipped
      if (count > 0 && this.#compareDirect(items[count - 1], item) >= 0) {
        for (const item of pending) marked[item] = 1; // as before, for the sort
        return null;
      }
      items[count++] = item;
    }
    return items.subarray(0, count);
  }

  readonly #compare = (a: number, b: number): number =>
    (this.#byName
      ? this.#byName(this.#names[a]!, this.#names[b]!)
      : compareNames(this.#key(a), this.#names[a]!, this.#key(b), this.#names[b]!)) || a - b;

  /** As `#compare`, without keys: for one compare per item (they would cost more to build). */
  #compareDirect(a: number, b: number): number {
    return (this.#byName
      ? this.#byName(this.#names[a]!, this.#names[b]!)
      : compareNamesDirect(this.#names[a]!, this.#names[b]!)) || a - b;
  }

  #key(item: number): string {
    return this.#keys[item] ??= naturalKey(this.#names[item]!);
  }

  /**
   * Merges sorted `added` into sorted `kept`, writing to `into` (which may be
   * `kept`'s own buffer: it is filled from the end). A few items are placed by
   * binary search, many by a linear merge, whichever compares less.
   */
  #merge(kept: Uint32Array, added: number[], into: Uint32Array): void {
    let i = kept.length - 1;
    let j = added.length - 1;
    let at = kept.length + added.length - 1;
    const binary = added.length * Math.log2(kept.length + 1) < kept.length;
    while (j >= 0) {
      const item = added[j];
      if (binary) {
        // The first position in kept[0..i] whose item sorts after `item`.
        let lo = 0, hi = i + 1;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (this.#compare(kept[mid], item) < 0) lo = mid + 1;
          else hi = mid;
        }
        while (i >= lo) into[at--] = kept[i--];
      } else {
        while (i >= 0 && this.#compare(kept[i], item) > 0) into[at--] = kept[i--];
      }
      into[at--] = item;
      j--;
    }
    // In place, the rest of `kept` already sits where it belongs.
    if (into.buffer !== kept.buffer) { while (i >= 0) into[at--] = kept[i--]; }
  }
}
