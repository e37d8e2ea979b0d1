import { assertEquals } from "../../tests/testing/assert.ts";
import { Logger } from "./logger.ts";

Deno.test("logger writes one JSON line per event at or above its level, with secrets redacted", () => {
  const lines: string[] = [];
  const logger = new Logger({ level: "info", write: (l) => lines.push(l), now: () => new Date(0) });
  logger.debug("hidden");
  logger.info("listening", { url: "http://127.0.0.1:8000/", apiKey: "k-123", token: "abc" });
  logger.error("failed", { error: new RangeError("boom") });
  assertEquals(lines.length, 2);
  const first = JSON.parse(lines[0]);
  assertEquals(first, {
    time: "1970-01-01T00:00:00.000Z",
    level: "info",
    msg: "listening",
    url: "http://127.0.0.1:8000/",
    apiKey: "[redacted]",
    token: "[redacted]",
  });
  const second = JSON.parse(lines[1]);
  assertEquals([second.level, second.error.name, second.error.message], [
    "error",
    "RangeError",
    "boom",
  ]);
});
