import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { parseMetricMeta } from "./metric_meta.ts";
import { withBrowserProto } from "../testing/browser_proto.ts";

const entry = (name: string) => ({ name, unit: "", precision: 1 });

Deno.test("metric metadata keeps usable entries and drops the others", () => {
  const meta = parseMetricMeta({
    metrics: { t: { ...entry("T"), unit: "°C" }, bad: { name: "B", precision: 0 } },
  });
  assertEquals(meta, { t: { name: "T", unit: "°C", precision: 1 } });
});

Deno.test("metadata of metrics named __proto__ or constructor is kept as their own, in a browser", () => {
  const body = JSON.parse(
    `{"metrics":{"__proto__":${JSON.stringify(entry("P"))},"constructor":${
      JSON.stringify(entry("C"))
    }}}`,
  );
  const meta = withBrowserProto(() => parseMetricMeta(body));
  assertEquals(Object.keys(meta), ["__proto__", "constructor"]);
  assertEquals(Object.getPrototypeOf(meta), Object.prototype);
  assertEquals(Object.getOwnPropertyDescriptor(meta, "__proto__")?.value, entry("P"));
});
