/** A finished sort: the ascending order and the descending one, in the first `length` entries of each. */
export interface SortedOrder {
  asc: Uint32Array;
  desc: Uint32Array;
  length: number;
}

/**
 * Sorts a shared order's keys away from the tick: `start` takes a snapshot
 * (copies of the key column and the ids to sort, so the caller's arrays may
 * change at once), and the sorted ids come back through `take` at a later
 * tick. The ViewTable sorts in the tick when there is no sorter, or the
 * sorter cannot take the job, or has failed.
 */
export interface OrderSorter {
  /**
   * Starts sorting `ids` (in id order) ascending by `values[id]`, NaN last,
   * -0 equal to 0, ties in the order of `ids`. False when it cannot take the
   * job now (too many in flight, or failed): sort in the tick then.
   */
  start(token: number, job: { values: Float64Array; ids: Uint32Array }): boolean;
  /**
   * Hands each job finished since the last call to `each`: the ascending
   * order, and the descending one made from it by `reverseOrder` with the
   * same keys. `each` keeps both arrays and gives two of its own in exchange
   * (which the sorter may fill in a later job), or returns null when it does
   * not take them.
   */
  take(
    each: (token: number, order: SortedOrder) => { asc: Uint32Array; desc: Uint32Array } | null,
  ): void;
  /** True once it cannot sort any more (its worker failed): jobs in flight are lost. */
  readonly failed: boolean;
  /** Jobs started and not yet taken. */
  readonly inFlight: number;
  /** Stops it for good; jobs in flight are lost. */
  close(): void;
}
