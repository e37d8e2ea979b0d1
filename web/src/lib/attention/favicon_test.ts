import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { faviconHref, faviconLevel } from "./favicon.ts";

Deno.test("the tab icon is red while a sensor is critical, amber while one warns, else green without a dot", () => {
  assertEquals(faviconLevel({}), null);
  assertEquals(faviconLevel({ offline: 3, stale: 2 }), null);
  assertEquals(faviconLevel({ warn: 1, offline: 3 }), "warn");
  assertEquals(faviconLevel({ critical: 2, warn: 1 }), "critical");
  const svg = (level: "critical" | "warn" | null) =>
    decodeURIComponent(faviconHref(level).slice("data:image/svg+xml,".length));
  assertEquals(svg("critical").match(/#ef4444/g)?.length, 2, "the pulse and the dot");
  assertEquals(svg("warn").match(/#f59e0b/g)?.length, 2);
  assertEquals([svg(null).includes("#22c55e"), svg(null).includes("<circle")], [true, false]);
  for (const level of ["critical", "warn", null] as const) {
    assertEquals(svg(level).startsWith("<svg") && svg(level).endsWith("</svg>"), true);
  }
});
