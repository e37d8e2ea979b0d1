// A stable sort of items by a Float64 key, for orderings of 100,000 sensors.
// Measured on the 2-core machine (100k keys, see bench/view_order.ts): a
// Uint32Array of indexes sorted with a comparator took 57–135 ms, a packed
// Float64Array sorted natively 17–29 ms, this radix sort 2.3–6 ms.

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const HI = LITTLE_ENDIAN ? 1 : 0;
const LO = LITTLE_ENDIAN ? 0 : 1;
const DIGIT_BITS = 11;
const BUCKETS = 1 << DIGIT_BITS;
/** Runs up to this long are sorted by insertion, longer ones by radix. */
const SMALL_RUN = 48;

/** Buffers a sort reuses, grown to the largest input seen: nothing is allocated once warm. */
export class RadixScratch {
  hi = new Uint32Array(0);
  lo = new Uint32Array(0);
  item = new Uint32Array(0);
  hi2 = new Uint32Array(0);
  lo2 = new Uint32Array(0);
  item2 = new Uint32Array(0);
  readonly counts = new Uint32Array(BUCKETS);
  /** The high word's three digits' counts, taken in the pass that reads the keys. */
  readonly digitCounts = [
    new Uint32Array(BUCKETS),
    new Uint32Array(BUCKETS),
    new Uint32Array(BUCKETS),
  ];
  /** An incremental re-sort's moved items, and the same sorted. */
  moved = new Uint32Array(0);
  movedSorted = new Uint32Array(0);

  ensureMoved(n: number): void {
    if (this.moved.length >= n) return;
    const size = Math.max(n, this.moved.length * 2, 1024);
    this.moved = new Uint32Array(size);
    this.movedSorted = new Uint32Array(size);
  }

  ensure(n: number): void {
    if (this.hi.length >= n) return;
    const size = Math.max(n, this.hi.length * 2, 1024);
    this.hi = new Uint32Array(size);
    this.lo = new Uint32Array(size);
    this.item = new Uint32Array(size);
    this.hi2 = new Uint32Array(size);
    this.lo2 = new Uint32Array(size);
    this.item2 = new Uint32Array(size);
  }

  get bytes(): number {
    return this.hi.byteLength * 6 + this.counts.byteLength + this.moved.byteLength * 2;
  }
}

/**
 * Writes `items` into `out` ordered by `keys[item]`, ascending or descending.
 * NaN (a missing value) goes last in either direction; -0 equals 0; items
 * with equal keys keep their order in `items` (the sort is stable), so
 * passing items in id order breaks ties by id.
 */
export function sortByKey(
  keys: Float64Array,
  items: ArrayLike<number>,
  options: { out: Uint32Array; descending: boolean; scratch: RadixScratch },
): void {
  const n = items.length;
  const s = options.scratch;
  s.ensure(n);
  const flip = options.descending ? 0xffffffff : 0;
  // The keys' IEEE 754 words, read in place.
  const words = new Uint32Array(keys.buffer, keys.byteOffset, keys.length * 2);
  let hi = s.hi, lo = s.lo, item = s.item;
  const [c0, c1, c2] = s.digitCounts;
  c0.fill(0);
  c1.fill(0);
  c2.fill(0);
  for (let i = 0; i < n; i++) {
    const it = items[i];
    item[i] = it;
    let h = words[2 * it + HI], l = words[2 * it + LO];
    if ((h & 0x7ff00000) === 0x7ff00000 && ((h & 0xfffff) | l) !== 0) {
      hi[i] = 0xffffffff; // NaN: missing, last either way
      lo[i] = 0xffffffff;
      c0[BUCKETS - 1]++;
      c1[BUCKETS - 1]++;
      c2[0xffffffff >>> (2 * DIGIT_BITS)]++;
      continue;
    }
    if (h === 0x80000000 && l === 0) h = 0; // -0 equals 0
    // As an unsigned integer that sorts like the number.
    if (h & 0x80000000) {
      h = ~h;
      l = ~l;
    } else h |= 0x80000000;
    const key = (h ^ flip) >>> 0;
    hi[i] = key;
    lo[i] = (l ^ flip) >>> 0;
    c0[key & (BUCKETS - 1)]++;
    c1[(key >>> DIGIT_BITS) & (BUCKETS - 1)]++;
    c2[key >>> (2 * DIGIT_BITS)]++;
  }
  // Least significant digit first over the high word, carrying the low word and the item.
  let hi2 = s.hi2, lo2 = s.lo2, item2 = s.item2;
  for (let digit = 0, shift = 0; shift < 32; digit++, shift += DIGIT_BITS) {
    const counts = s.digitCounts[digit];
    if (!prefixSums(counts, n)) continue;
    for (let i = 0; i < n; i++) {
      const at = counts[(hi[i] >>> shift) & (BUCKETS - 1)]++;
      hi2[at] = hi[i];
      lo2[at] = lo[i];
      item2[at] = item[i];
    }
    let t = hi;
    hi = hi2;
    hi2 = t;
    t = lo;
    lo = lo2;
    lo2 = t;
    t = item;
    item = item2;
    item2 = t;
  }
  // Keys equal in the high word and not in the low one (close values, or times
  // in ms, whose high word spans minutes) are put in order within their run.
  let start = 0;
  for (let i = 1; i <= n; i++) {
    if (i < n && hi[i] === hi[start]) continue;
    if (i - start > 1) sortRun(lo, item, { start, end: i, lo2, item2, counts: s.counts });
    start = i;
  }
  options.out.set(item.subarray(0, n));
}

/** Turns digit counts of n keys into exclusive prefix sums; false when one digit has all n. */
function prefixSums(counts: Uint32Array, n: number): boolean {
  let sum = 0;
  for (let d = 0; d < BUCKETS; d++) {
    const c = counts[d];
    if (c === n) return false;
    counts[d] = sum;
    sum += c;
  }
  return true;
}

/**
 * Counts digits at `shift` over [start, end) into exclusive prefix sums
 * starting at `start`; false when every key has the same digit (the pass would
 * not move anything).
 */
function spread(keys: Uint32Array, start: number, end: number, shift: number, counts: Uint32Array) {
  counts.fill(0);
  for (let i = start; i < end; i++) counts[(keys[i] >>> shift) & (BUCKETS - 1)]++;
  let sum = start;
  for (let d = 0; d < BUCKETS; d++) {
    const c = counts[d];
    if (c === end - start) return false;
    counts[d] = sum;
    sum += c;
  }
  return true;
}

/** Stable sort of [start, end) of `lo` (carrying `item`) by `lo`. */
function sortRun(
  lo: Uint32Array,
  item: Uint32Array,
  o: { start: number; end: number; lo2: Uint32Array; item2: Uint32Array; counts: Uint32Array },
): void {
  const { start, end } = o;
  let sorted = true;
  for (let i = start + 1; i < end && sorted; i++) sorted = lo[i - 1] <= lo[i];
  if (sorted) return;
  if (end - start <= SMALL_RUN) {
    for (let i = start + 1; i < end; i++) {
      const key = lo[i], it = item[i];
      let j = i - 1;
      while (j >= start && lo[j] > key) {
        lo[j + 1] = lo[j];
        item[j + 1] = item[j];
        j--;
      }
      lo[j + 1] = key;
      item[j + 1] = it;
    }
    return;
  }
  let a = lo, b = o.lo2, ia = item, ib = o.item2;
  for (let shift = 0; shift < 32; shift += DIGIT_BITS) {
    if (!spread(a, start, end, shift, o.counts)) continue;
    for (let i = start; i < end; i++) {
      const at = o.counts[(a[i] >>> shift) & (BUCKETS - 1)]++;
      b[at] = a[i];
      ib[at] = ia[i];
    }
    let t = a;
    a = b;
    b = t;
    t = ia;
    ia = ib;
    ib = t;
  }
  if (a !== lo) {
    lo.set(a.subarray(start, end), start);
    item.set(ia.subarray(start, end), start);
  }
}
