import fc from "fast-check";
import { assertEquals } from "../tests/testing/assert.ts";
import {
  allocateStates,
  allocateWindowStates,
  copyStatesAt,
  copyWindowStatesAt,
  prefixStates,
  prefixWindowStates,
} from "./columns.ts";

// Rows as plain arrays: the recomputation reads them, not the columns.
const stateRow = fc.tuple(
  fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  fc.integer({ min: 0, max: 65_535 }),
  fc.double({ noNaN: true }),
  fc.double({ noNaN: true }),
  fc.double({ noNaN: true }),
  fc.double({ noNaN: true }),
  fc.double({ noNaN: true }),
);
const windowRow = fc.tuple(
  fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  fc.integer({ min: 0, max: 65_535 }),
  fc.integer({ min: 0, max: 255 }),
  fc.integer({ min: 0, max: 255 }),
  fc.array(fc.double({ noNaN: true }), { minLength: 6, maxLength: 6 }),
);

Deno.test("copyStatesAt copies exactly the first `length` rows to `at`, whether the columns are that long or longer (junk beyond `length` left behind), and touches nothing else", () => {
  fc.assert(
    fc.property(
      fc.array(stateRow, { maxLength: 40 }),
      fc.nat({ max: 30 }),
      fc.nat({ max: 20 }),
      (rows, spare, at) => {
        const n = rows.length;
        const whole = allocateStates(n + spare);
        rows.forEach((r, i) => {
          whole.sensor[i] = r[0];
          whole.metric[i] = r[1];
          whole.last[i] = r[2];
          whole.avg[i] = r[3];
          whole.min[i] = r[4];
          whole.max[i] = r[5];
          whole.timeMs[i] = r[6];
        });
        for (let i = n; i < n + spare; i++) whole.last[i] = whole.sensor[i] = 7; // junk
        const from = spare === 0 ? whole : Object.assign(prefixStates(whole), { length: n });
        const to = allocateStates(at + n + 5);
        to.last.fill(-1);
        to.sensor.fill(9);
        copyStatesAt(from, to, at);
        const got = Array.from({ length: to.length }, (_, i) => [
          to.sensor[i],
          to.metric[i],
          to.last[i],
          to.avg[i],
          to.min[i],
          to.max[i],
          to.timeMs[i],
        ]);
        const untouched = [9, 0, -1, 0, 0, 0, 0];
        const expected = Array.from(
          { length: to.length },
          (_, i) =>
            i >= at && i < at + n
              ? [
                rows[i - at][0],
                rows[i - at][1],
                ...rows[i - at].slice(2).map((v) => new Float64Array([v])[0]),
              ]
              : untouched,
        );
        assertEquals(got, expected);
      },
    ),
  );
});

Deno.test("copyWindowStatesAt copies exactly the first `length` rows to `at`, whether the columns are that long or longer, and touches nothing else", () => {
  fc.assert(
    fc.property(
      fc.array(windowRow, { maxLength: 40 }),
      fc.nat({ max: 30 }),
      fc.nat({ max: 20 }),
      (rows, spare, at) => {
        const n = rows.length;
        const whole = allocateWindowStates(n + spare);
        rows.forEach((r, i) => {
          whole.sensor[i] = r[0];
          whole.metric[i] = r[1];
          whole.size[i] = r[2];
          whole.flags[i] = r[3];
          [whole.startMs, whole.count, whole.sum, whole.min, whole.max, whole.std].forEach((c, k) =>
            c[i] = r[4][k]
          );
        });
        for (let i = n; i < n + spare; i++) whole.size[i] = whole.sum[i] = 7; // junk
        const from = spare === 0 ? whole : Object.assign(prefixWindowStates(whole), { length: n });
        const to = allocateWindowStates(at + n + 5);
        to.size.fill(3);
        to.sum.fill(-1);
        copyWindowStatesAt(from, to, at);
        const got = Array.from({ length: to.length }, (_, i) => [
          to.sensor[i],
          to.metric[i],
          to.size[i],
          to.flags[i],
          to.startMs[i],
          to.count[i],
          to.sum[i],
          to.min[i],
          to.max[i],
          to.std[i],
        ]);
        const expected = Array.from(
          { length: to.length },
          (_, i) =>
            i >= at && i < at + n
              ? [
                rows[i - at][0],
                rows[i - at][1],
                rows[i - at][2],
                rows[i - at][3],
                ...rows[i - at][4].map((v) => new Float64Array([v])[0]),
              ]
              : [0, 0, 3, 0, 0, 0, -1, 0, 0, 0],
        );
        assertEquals(got, expected);
      },
    ),
  );
});
