import { createHash } from "node:crypto";
import { TokenBucket } from "../token_bucket.ts";
import type { ViewRequest } from "../../../protocol/client_messages.ts";
import { DEFAULT_WINDOW_LIMITS, placeWindow } from "../../../actors/hub/mod.ts";

/**
 * A row budget of `perSecond` rows a second: a burst of two seconds' worth,
 * so a dashboard opening and then moving a window at once is not held.
 */
export function rowBudget(perSecond: number): { capacity: number; perSecond: number } {
  return { capacity: 2 * perSecond, perSecond };
}

/**
 * The row budgets of the client addresses with a paced connection open:
 * one bucket per address, shared by its connections. An address's bucket
 * outlives its last connection until it has refilled (a sweep at most once a
 * second lets go of those): dropped at once, a client could reconnect for a
 * fresh burst, again and again.
 */
export class AddressRowBudgets {
  readonly #rate: { capacity: number; perSecond: number };
  readonly #budgets = new Map<
    string,
    { bucket: TokenBucket; connections: number; views: RecentViews }
  >();
  #sweptAt = -Infinity;

  constructor(rate: { capacity: number; perSecond: number }) {
    this.#rate = rate;
  }

  /** The bucket of `address`, counting one more connection on it. */
  join(address: string, now: number): TokenBucket {
    this.#sweep(now);
    let budget = this.#budgets.get(address);
    if (!budget) {
      budget = { bucket: new TokenBucket(this.#rate, now), connections: 0, views: new Set() };
      this.#budgets.set(address, budget);
    }
    budget.connections++;
    return budget.bucket;
  }

  /**
   * The views `address`'s connections opened lately (see `ViewPacer`): kept
   * with its bucket, after `join`.
   */
  views(address: string): RecentViews {
    return this.#budgets.get(address)?.views ?? new Set();
  }

  /** One connection of `address` is gone; its bucket stays until it has refilled. */
  leave(address: string, now: number): void {
    const budget = this.#budgets.get(address);
    if (budget) budget.connections--;
    this.#sweep(now);
  }

  /** Addresses held (for tests). */
  get size(): number {
    return this.#budgets.size;
  }

  #sweep(now: number): void {
    if (now - this.#sweptAt < 1_000) return;
    this.#sweptAt = now;
    const capacity = this.#rate.capacity;
    for (const [address, budget] of this.#budgets) {
      if (budget.connections <= 0 && budget.bucket.has(now, capacity)) {
        this.#budgets.delete(address);
      }
    }
  }
}

/**
 * Paces one connection's ViewSubscribes by the rows they may bring. The hub
 * answers a ViewSubscribe at once with every row new to the window, and a
 * resort, another filter or metrics shown again make the whole window new:
 * so a client flipping a 1,000-row window's sort within the message rate
 * made the server encode and send 5,000 rows a second (about a tenth of a
 * core per connection). A request costs the rows it is served (`servedRows`), from the
 * connection's budget and its address's; one that does not fit is held, not
 * refused, and a newer one replaces it (only the newest window matters, as
 * the dashboard's own coalescing does), keeping what the held one said once:
 * its hold, release or resort, and its resume point. A close (`limit` 0)
 * always goes at once. A request that sorts (a resort, or another view than
 * the connection's last: another sort, filter or topic, which the hub may
 * have to build and order) costs at least `VIEW_CHANGE_ROWS`: with rows
 * alone, flipping filters on a one-row window made a fresh view a few ms of
 * the hub's tick each for 50 rows' cost.
 */
export class ViewPacer {
  readonly #own: TokenBucket;
  readonly #address: TokenBucket;
  readonly #addressViews: RecentViews | null;
  #held: ViewRequest | null = null;
  /** The held request's `viewOf`. */
  #heldView = "";
  /** The held request is a resort that a hold came after (see `followUp`). */
  #heldThenHold = false;
  /** The hold to send right after the resort that went (`followUp`). */
  #followUp: ViewRequest | null = null;
  /** A digest of the view (topic, sort, filter) of the last request sent; null before the first. */
  #lastView: string | null = null;

  /**
   * `addressViews`: the views the address's connections opened lately
   * (`AddressRowBudgets.views`). With it, a connection's first request costs
   * its rows only for one of those (a dashboard reconnecting to its view);
   * another sorts. Without, the first request costs its rows: one
   * connection each, a client opened a fresh view for 50 rows, not 500.
   */
  constructor(own: TokenBucket, address: TokenBucket, addressViews?: RecentViews) {
    this.#own = own;
    this.#address = address;
    this.#addressViews = addressViews ?? null;
  }

  /**
   * The request to send now, or null: it is held until `waitMs` (it replaced
   * any held one). After one is returned, send `followUp()` too.
   */
  offer(request: ViewRequest, now: number): ViewRequest | null {
    const held = this.#held;
    const heldThenHold = this.#heldThenHold;
    this.#held = null;
    this.#heldThenHold = false;
    this.#followUp = null;
    if (request.limit === 0) return request;
    let asked = request;
    if (held !== null) {
      // The orders said while held, as the hub would have applied them one
      // by one: a resort also releases, so a release after it adds nothing,
      // and a hold after it still holds (sent after it, `followUp`); an
      // operator's "order now" is never lost to a later hold or release.
      const resorted = held.order === "resort" && request.order !== "resort";
      asked = {
        ...request,
        order: request.order === "keep" || resorted ? held.order : request.order,
        resume: request.resume ?? held.resume,
      };
      this.#heldThenHold = resorted &&
        (request.order === "hold" || (request.order === "keep" && heldThenHold));
    }
    // Digested once: a held request is judged again at every release.
    const view = viewOf(asked);
    if (this.#fits(asked, view, now)) return this.#went(asked);
    this.#held = asked;
    this.#heldView = view;
    return null;
  }

  /** The held request, if it fits now (it is then no longer held); then send `followUp()` too. */
  release(now: number): ViewRequest | null {
    const held = this.#held;
    if (held === null || !this.#fits(held, this.#heldView, now)) return null;
    this.#held = null;
    return this.#went(held);
  }

  /**
   * The hold said after a resort that was held, to send right after that
   * resort (one ViewSubscribe says one order); once. It costs nothing: the
   * same view and window, it brings no rows.
   */
  followUp(): ViewRequest | null {
    const followUp = this.#followUp;
    this.#followUp = null;
    return followUp;
  }

  #went(request: ViewRequest): ViewRequest {
    this.#followUp = this.#heldThenHold ? { ...request, order: "hold", resume: null } : null;
    this.#heldThenHold = false;
    return request;
  }

  get holding(): boolean {
    return this.#held !== null;
  }

  /** How long until the held request would fit, if no one else takes from the budgets. */
  waitMs(now: number): number {
    if (this.#held === null) return 0;
    const cost = this.#cost(this.#held, this.#heldView);
    return Math.max(this.#own.msUntil(now, cost), this.#address.msUntil(now, cost));
  }

  /** Takes the request's rows from both budgets, or from neither. */
  #fits(request: ViewRequest, view: string, now: number): boolean {
    const rows = this.#cost(request, view);
    // A window larger than a budget's burst costs the burst: it still goes, once the budget is full.
    const own = Math.min(rows, this.#own.capacity);
    const address = Math.min(rows, this.#address.capacity);
    if (!this.#own.has(now, own) || !this.#address.has(now, address)) return false;
    this.#own.take(now, own);
    this.#address.take(now, address);
    this.#lastView = view;
    const recent = this.#addressViews;
    if (recent !== null) {
      recent.delete(view); // to the end: the newest
      recent.add(view);
      if (recent.size > RECENT_VIEWS) recent.delete(recent.values().next().value!);
    }
    return true;
  }

  /** `view`: the request's `viewOf`. */
  #cost(request: ViewRequest, view: string): number {
    const rows = servedRows(request);
    const last = this.#lastView;
    const sorts = request.order === "resort" ||
      (last !== null
        ? view !== last
        : this.#addressViews !== null && !this.#addressViews.has(view));
    return sorts ? Math.max(rows, VIEW_CHANGE_ROWS) : rows;
  }
}

/** The least a request that sorts costs, in rows (see `ViewPacer`). */
export const VIEW_CHANGE_ROWS = 500;

/** Digests of the views an address opened lately, oldest first (insertion order). */
export type RecentViews = Set<string>;

/** Views an address remembers: as many as it may hold (`--views-per-client`'s default). */
export const RECENT_VIEWS = 16;

/**
 * A digest of what makes a request's view (its topic, sort and filter): 32
 * bytes, not the key, so a connection holds little for it however large its
 * subscriptions are. SHA-256, not a 32-bit hash: FNV-1a collisions take a
 * client ~615,000 tries to find (filters "6yzx" and "d6ad" collided), and a
 * chain of views under one hash made every fresh view cost its rows only.
 */
function viewOf(request: ViewRequest): string {
  const key = JSON.stringify([request.subscriptions, request.sort, request.filter]);
  return createHash("sha256").update(key).digest("base64");
}

/**
 * The rows a request brings: its window rounded out to blocks, as the hub
 * serves it (`offset` 49 and `limit` 2 are 100 rows); the `limit` asked for
 * when the hub will refuse it anyway.
 */
export function servedRows(request: { offset: number; limit: number }): number {
  try {
    return placeWindow(request.offset, request.limit, DEFAULT_WINDOW_LIMITS).limit;
  } catch {
    return request.limit;
  }
}
