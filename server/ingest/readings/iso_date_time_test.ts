import fc from "fast-check";
import { assert, assertEquals } from "../../../tests/testing/assert.ts";
import { parseTimestamp } from "./validate.ts";
import { refusalKind } from "./refusal_kind.ts";

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

function refusedWith(input: string, pattern: RegExp): void {
  const got = parseTimestamp(input);
  assert(typeof got === "string", `${input} should be refused, got ${got}`);
  assert(pattern.test(got), `${input}: "${got}" should match ${pattern}`);
  assertEquals(refusalKind(got), "timestamp");
}

Deno.test("impossible calendar dates, times of day and zone offsets are refused with a reason naming the timestamp", () => {
  const cases: [string, RegExp][] = [
    ["2020-02-30T10:00:00Z", /^timestamp 2020-02-30T10:00:00Z is not a calendar date/],
    ["2021-02-29T00:00:00Z", /2021-02-29T00:00:00Z is not a calendar date/],
    ["2100-02-29T00:00:00Z", /is not a calendar date/],
    ["2026-04-31T00:00:00Z", /is not a calendar date/],
    ["2026-06-31T00:00:00+02:00", /is not a calendar date/],
    ["2026-01-32T00:00:00Z", /is not a calendar date/],
    ["2026-01-00T00:00:00Z", /is not a calendar date/],
    ["2026-13-01T00:00:00Z", /is not a calendar date/],
    ["2026-00-10T00:00:00Z", /is not a calendar date/],
    ["2026-01-01T24:00:00Z", /hour 24/],
    ["2026-01-01T24:00Z", /hour 24/],
    ["2026-01-01T25:00:00Z", /hour 25/],
    ["2026-01-01T23:60:00Z", /minute 60/],
    ["2026-01-01T23:59:60Z", /second 60/],
    ["2026-01-01T23:59:61.5Z", /second 61/],
    ["2026-01-01T23:59:59+24:00", /offset \+24:00/],
    ["2026-01-01T23:59:59-05:60", /offset -05:60/],
    ["2026-01-01T23:59:59+0575", /offset \+0575/],
  ];
  for (const [input, pattern] of cases) refusedWith(input, pattern);
});

Deno.test("leap days are accepted exactly in leap years, at the right instant", () => {
  assertEquals(parseTimestamp("2020-02-29T10:00:00Z"), Date.UTC(2020, 1, 29, 10));
  assertEquals(parseTimestamp("2000-02-29T23:59:59.999Z"), Date.UTC(2000, 1, 29, 23, 59, 59, 999));
  assertEquals(parseTimestamp("2024-02-29T00:30:00+01:00"), Date.UTC(2024, 1, 28, 23, 30));
  refusedWith("2023-02-29T00:00:00Z", /not a calendar date/);
  refusedWith("1900-02-29T00:00:00Z", /not a calendar date/);
});

Deno.test("timestamps before 1970 are refused even when the year is below 100", () => {
  // Date.UTC maps years 0-99 to 1900-1999: 0099 must not become 1999.
  refusedWith("0099-06-01T00:00:00Z", /before 1970/);
  refusedWith("1969-12-31T23:59:59Z", /before 1970/);
  assertEquals(parseTimestamp("1969-12-31T23:30:00-01:00"), 30 * 60_000);
});

/** A calendar date-time, its text and the zone offset written in it. */
const validDateTime = fc.record({
  year: fc.integer({ min: 1971, max: 9998 }),
  month: fc.integer({ min: 1, max: 12 }),
  day: fc.integer({ min: 1, max: 31 }),
  hour: fc.integer({ min: 0, max: 23 }),
  minute: fc.integer({ min: 0, max: 59 }),
  second: fc.option(fc.integer({ min: 0, max: 59 })),
  fraction: fc.option(fc.stringMatching(/^\d{1,9}$/)),
  offset: fc.option(fc.record({
    sign: fc.constantFrom("+", "-"),
    hours: fc.integer({ min: 0, max: 23 }),
    minutes: fc.integer({ min: 0, max: 59 }),
  })),
});

type DateTime = typeof validDateTime extends fc.Arbitrary<infer T> ? T : never;

function format(t: DateTime, overrides: Partial<Record<"day" | "hour" | "minute", number>> = {}) {
  const day = overrides.day ?? t.day, hour = overrides.hour ?? t.hour;
  const minute = overrides.minute ?? t.minute;
  let text = `${pad(t.year, 4)}-${pad(t.month)}-${pad(day)}T${pad(hour)}:${pad(minute)}`;
  if (t.second !== null) {
    text += `:${pad(t.second)}`;
    if (t.fraction !== null) text += `.${t.fraction}`;
  }
  return text +
    (t.offset === null ? "Z" : `${t.offset.sign}${pad(t.offset.hours)}:${pad(t.offset.minutes)}`);
}

/** Days in a month by the JS calendar, which rolls day 0 of the next month back. */
const daysIn = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();

Deno.test("every real date-time with any zone parses to the instant Date.parse gives it", () => {
  fc.assert(
    fc.property(validDateTime, (t) => {
      const text = format(t, { day: Math.min(t.day, daysIn(t.year, t.month)) });
      // V8's own ISO parser is the independent reference for dates that exist.
      assertEquals(parseTimestamp(text), Date.parse(text), text);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("every day past the end of its month is refused, whatever the rest", () => {
  fc.assert(
    fc.property(validDateTime, fc.integer({ min: 1, max: 72 }), (t, past) => {
      const day = daysIn(t.year, t.month) + past;
      if (day > 99) return;
      const text = format(t, { day });
      refusedWith(
        text,
        new RegExp(`^timestamp ${text.replace("+", "\\+")} is not a calendar date`),
      );
    }),
  );
});

Deno.test("every hour past 23 and minute past 59 is refused", () => {
  fc.assert(
    fc.property(
      validDateTime,
      fc.integer({ min: 24, max: 99 }),
      fc.integer({ min: 60, max: 99 }),
      (t, hour, minute) => {
        const day = Math.min(t.day, daysIn(t.year, t.month));
        refusedWith(format(t, { day, hour }), new RegExp(`hour ${hour}`));
        refusedWith(format(t, { day, minute }), new RegExp(`minute ${minute}`));
      },
    ),
  );
});

Deno.test("text out of ISO-8601 characters is accepted only in the documented shape, at Date.parse's instant", () => {
  // The documented grammar, written independently as a regular expression.
  const shape = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/;
  const near = fc.constantFrom(
    "2020-02-29T23:59:59.5Z",
    "2026-01-02T03:04+05:30",
    "1999-12-31T00:00Z",
  );
  const edit = fc.tuple(
    fc.nat(30),
    fc.nat(30),
    fc.string({ unit: fc.constantFrom(..."0123456789-T:Z+.z "), maxLength: 3 }),
  );
  fc.assert(
    fc.property(near, fc.array(edit, { maxLength: 3 }), (start, edits) => {
      let text = start;
      for (const [at, cut, insert] of edits) {
        text = text.slice(0, at) + insert + text.slice(at + (cut % 3));
      }
      const got = parseTimestamp(text);
      if (/^-?\d+(\.\d+)?$/.test(text)) return; // epoch ms, another form
      if (typeof got === "number") {
        assert(shape.test(text), `accepted ${text}`);
        assertEquals(got, Date.parse(text), text);
      } else {
        assert(/timestamp/.test(got), got);
      }
    }),
    { numRuns: 3000 },
  );
});
