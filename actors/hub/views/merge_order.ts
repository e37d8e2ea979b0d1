// An order re-sorted from the one before it: a second after a sort of
// 100,000 sensors, some thousands of keys have moved. Those are taken out,
// sorted among themselves (a radix sort of a few thousand) and merged back in
// one linear pass, rather than sorting all 100,000 again.

/**
 * Writes into `out` the order of `sorted` (items ascending by `keys[item]`,
 * ties by `rank[item]`, NaN last) with the items in `moved` (already in that
 * order among themselves) put where they now belong. Items of `sorted` for
 * which `drop[item]` is not 0 (moved, or gone) are left out. Returns how many
 * items `out` holds. Comparisons follow `sortByKey`'s rule: NaN (missing)
 * last, -0 equal to 0, then the rank.
 */
export function mergeMoved(
  sorted: ArrayLike<number>,
  moved: ArrayLike<number>,
  o: { keys: Float64Array; rank: ArrayLike<number>; drop: Uint8Array; out: Uint32Array },
): number {
  const { keys, rank, drop, out } = o;
  const n = sorted.length, m = moved.length;
  let i = 0, at = 0;
  for (let j = 0; j < m; j++) {
    const b = moved[j];
    const y = keys[b], rb = rank[b];
    // The kept items that go before b: a smaller key, or an equal one (both
    // missing, or -0 and 0) and a smaller rank. NaN: x < y and x === y are false.
    if (y === y) {
      while (i < n) {
        const s = sorted[i];
        if (drop[s] === 0) {
          const x = keys[s];
          if (!(x < y || (x === y && rank[s] < rb))) break;
          out[at++] = s;
        }
        i++;
      }
    } else {
      while (i < n) {
        const s = sorted[i];
        if (drop[s] === 0) {
          const x = keys[s];
          if (!(x === x || rank[s] < rb)) break;
          out[at++] = s;
        }
        i++;
      }
    }
    out[at++] = b;
  }
  for (; i < n; i++) {
    const s = sorted[i];
    if (drop[s] === 0) out[at++] = s;
  }
  return at;
}
