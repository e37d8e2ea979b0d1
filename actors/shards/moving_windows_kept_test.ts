import fc from "fast-check";
import { assert } from "../../tests/testing/assert.ts";
import { MovingWindows } from "./moving_windows.ts";

// The sums, mins and maxes a narrow ring page keeps as values come and go
// must read exactly as a recomputation from the plain list of values, however
// many readings pass between two reads, whatever leaves (the min, the max,
// one of several equal ones), across rescales, widening, resets and restores.

/** From scratch: the window's decimals summed as integers at 10^4 (exact), min and max. */
function expected(recent: readonly number[], narrow: boolean) {
  let min = Infinity, max = -Infinity, sum = 0, k = 0;
  for (const v of recent) {
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    k += Math.round(v * 1e4);
  }
  // A float64 page sums its doubles oldest first; a narrow one takes the decimals' mean.
  const avg = narrow ? k / (1e4 * recent.length) : sum / recent.length;
  return recent.length === 0 ? { avg: NaN, min, max } : { avg, min, max };
}

const valueArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -3, max: 3 }) }, // ties, and the min or max often leaving
  { weight: 4, arbitrary: fc.integer({ min: -5000, max: 5000 }).map((n) => n / 10) },
  { weight: 2, arbitrary: fc.integer({ min: -40_000, max: 40_000 }).map((n) => n / 10) }, // past int16
  { weight: 1, arbitrary: fc.integer({ min: -99_999, max: 99_999 }).map((n) => n / 1e4) }, // a rescale
  { weight: 1, arbitrary: fc.constantFrom(214_748.3647, -214_748.3647, 2 ** 31 - 1, 1 - 2 ** 31) },
);

type Op =
  | { kind: "add"; slot: number; value: number }
  | { kind: "read"; slot: number }
  | { kind: "reset"; slot: number }
  | { kind: "restore" };

const opArb = (slots: number[]): fc.Arbitrary<Op> =>
  fc.oneof(
    {
      weight: 12,
      arbitrary: fc.record({
        kind: fc.constant("add" as const),
        slot: fc.constantFrom(...slots),
        value: valueArb,
      }),
    },
    {
      weight: 4,
      arbitrary: fc.record({ kind: fc.constant("read" as const), slot: fc.constantFrom(...slots) }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("reset" as const),
        slot: fc.constantFrom(...slots),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ kind: "restore" as const }) },
  );

/** A slot of the same ring page as slots 0-3, none of the tested ones: where a page is widened. */
const WIDE_SLOT = 7;

function run(window: number, ops: readonly Op[], slots: number[], widen: number | null): void {
  let w = new MovingWindows(window);
  const seen = new Map<number, number[]>(slots.map((s) => [s, []]));
  for (const s of slots) w.reset(s);
  if (widen !== null) {
    // A float64 page from the start: a value that is no decimal, in a slot of the same page.
    w.reset(WIDE_SLOT);
    w.add(WIDE_SLOT, widen, 0);
  }
  const check = (s: number) => {
    const recent = seen.get(s)!.slice(-window);
    const want = expected(recent, w.ringForm(s) !== 0);
    const got = w.read(s, { avg: 0, min: 0, max: 0 });
    for (const key of ["avg", "min", "max"] as const) {
      assert(
        Object.is(got[key], want[key]),
        `slot ${s} ${key} ${got[key]} vs ${want[key]} over ${recent}`,
      );
    }
  };
  ops.forEach((op, t) => {
    switch (op.kind) {
      case "add":
        w.add(op.slot, op.value, t);
        seen.get(op.slot)!.push(op.value);
        break;
      case "read":
        check(op.slot);
        break;
      case "reset":
        w.reset(op.slot);
        seen.set(op.slot, []);
        break;
      case "restore": {
        // Through a checkpoint record, into fresh columns (as a restart does).
        const next = new MovingWindows(window);
        for (const s of slots) {
          const image = new Float64Array(2 + window);
          w.save(s, image, 0);
          next.restore(s, image, 0, w.filled(s));
        }
        if (widen !== null) next.add(WIDE_SLOT, widen, 0);
        w = next;
        break;
      }
    }
  });
  for (const s of slots) check(s);
}

Deno.test("moving windows: a narrow page's kept sum, min and max read exactly as a recomputation, however many readings pass between reads and whichever value leaves", () => {
  // Slots of one ring page, and one of another.
  const slots = [0, 1, 2, 3, 1500];
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 8 }),
      fc.array(opArb(slots), { minLength: 1, maxLength: 400 }),
      (window, ops) => run(window, ops, slots, null),
    ),
    { numRuns: 400 },
  );
});

Deno.test("moving windows: a page that widens to float64 (before or between reads) reads as its doubles summed oldest first, min and max exactly", () => {
  const slots = [0, 1, 2, 3];
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 8 }),
      fc.array(opArb(slots), { minLength: 1, maxLength: 200 }),
      fc.constantFrom(0.1 + 0.2, 1 / 3, -0, 1e300),
      (window, ops, widen) => run(window, ops, slots, widen),
    ),
    { numRuns: 200 },
  );
});

Deno.test("moving windows: a window of 50 decimals read after every tenth reading, a million readings long, is the exact mean (no drift) and the exact min and max", () => {
  const w = new MovingWindows(50);
  w.reset(9);
  const ring: number[] = [];
  let x = 7;
  for (let i = 1; i <= 1_000_000; i++) {
    x = (x * 48271) % 2147483647;
    const value = ((x % 20_001) - 10_000) / 10;
    w.add(9, value, i);
    ring.push(value);
    if (ring.length > 50) ring.shift();
    if (i % 10 === 0 && i % 100_000 === 0) {
      const want = expected(ring, true);
      const got = w.read(9, { avg: 0, min: 0, max: 0 });
      assert(
        Object.is(got.avg, want.avg) && got.min === want.min && got.max === want.max,
        `at ${i}`,
      );
    } else if (i % 10 === 0) w.read(9, { avg: 0, min: 0, max: 0 });
  }
});
