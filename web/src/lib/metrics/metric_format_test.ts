import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import fc from "fast-check";
import {
  changedBeyondPrecision,
  formatMetric,
  formatNumber,
  metaOf,
  metricLabel,
} from "./metric_format.ts";
import { withBrowserProto } from "../testing/browser_proto.ts";

const temperature = { name: "Temperature", unit: "°C", precision: 0.1 };

Deno.test("values are shown to the metric's precision with its unit", () => {
  assertEquals(formatMetric(21.04, temperature), "21.0 °C");
  assertEquals(formatMetric(21.06, temperature), "21.1 °C");
  assertEquals(formatMetric(1013.25, { name: "P", unit: "hPa", precision: 0.1 }), "1013.3 hPa");
  assertEquals(formatMetric(24, temperature), "24.0 °C");
  assertEquals(formatNumber(-0.04, temperature), "0.0");
  assertEquals(formatNumber(1234.5, { name: "rpm", unit: "", precision: 10 }), "1230");
  assertEquals(formatNumber(0.3, { name: "q", unit: "", precision: 0.25 }), "0.25");
  assertEquals(formatMetric(NaN, temperature), "–");
  assertEquals(formatMetric(3, { name: "x", unit: "", precision: 1 }), "3");
});

Deno.test("a metric without metadata keeps its name and two decimals", () => {
  const meta = metaOf({}, "flow");
  assertEquals(metricLabel(meta), "flow");
  assertEquals(formatMetric(1.234, meta), "1.23");
  assertEquals(metricLabel(temperature), "Temperature (°C)");
});

Deno.test("metrics named like Object's own properties are metrics, not the prototype's members", () => {
  for (const name of ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"]) {
    const meta = withBrowserProto(() => metaOf({ temperature }, name));
    assertEquals([metricLabel(meta), formatMetric(1.234, meta)], [name, "1.23"]);
  }
  const given = Object.fromEntries([["constructor", temperature]]);
  assertEquals(metricLabel(metaOf(given, "constructor")), "Temperature (°C)");
});

Deno.test("formatted numbers have exactly the precision's decimals and are within half a step", () => {
  fc.assert(fc.property(
    fc.double({ min: -1e6, max: 1e6, noNaN: true }),
    fc.constantFrom(1, 0.1, 0.01, 0.5, 0.25),
    (value, precision) => {
      const text = formatNumber(value, { name: "m", unit: "", precision });
      const decimals = { 1: 0, 0.1: 1, 0.01: 2, 0.5: 1, 0.25: 2 }[precision]!;
      assertEquals(text.split(".")[1]?.length ?? 0, decimals);
      return Math.abs(Number(text) - value) <= precision / 2 + 1e-6 * Math.max(1, Math.abs(value));
    },
  ));
});

Deno.test("a change counts only when it crosses a precision step", () => {
  assertEquals(changedBeyondPrecision(21.01, 21.04, temperature), false);
  assertEquals(changedBeyondPrecision(21.04, 21.06, temperature), true);
  assertEquals(changedBeyondPrecision(NaN, 21, temperature), true);
});

Deno.test("a value too long for its place is shortened to four significant digits, within the place", () => {
  const none = metaOf({}, "energy_wh");
  assertEquals(formatNumber(123456789.123, none, 8), "123.5M");
  assertEquals(formatNumber(-98765.4321, none, 8), "-98.77K");
  assertEquals(formatNumber(1e15, temperature, 8), "1E15");
  assertEquals(formatNumber(-1.23456e18, temperature, 8), "-1.23E18");
  assertEquals(formatNumber(12345.67, none, 8), "12345.67");
  const micro = { name: "strain", unit: "", precision: 0.000001 };
  assertEquals(formatNumber(-0.0000012, micro, 8), "-1E-6"); // to its precision
  assertEquals(formatNumber(-0.0000123, micro, 8), "-1.2E-5");
  assertEquals(formatNumber(-0.1234567, micro, 8), "-1.23E-1");
  fc.assert(fc.property(
    fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e300, max: 1e300 }),
    fc.constantFrom(1, 0.5, 0.1, 0.01, 0.001, 0.000001),
    (value, precision) => {
      const meta = { name: "m", unit: "", precision };
      const full = formatNumber(value, meta);
      const short = formatNumber(value, meta, 8);
      if (full.length <= 8) assertEquals(short, full);
      else assert(short.length <= 8, `${value}: ${short}`);
    },
  ));
});
