import fc from "fast-check";
import { assertEquals } from "../../tests/testing/assert.ts";
import { checkSensorId } from "../../protocol/names.ts";
import { createApp } from "./app.ts";
import type { Routes } from "./app.ts";
import type { AllowedHosts } from "./allowed_hosts.ts";

const unused = () => {
  throw new Error("not this route");
};

Deno.test("every sensor id ingest accepts reaches its history route, percent-encoded in the path", async () => {
  const asked: string[] = [];
  const app = createApp({
    ingest: unused,
    ingestStatus: unused,
    feed: unused,
    health: unused,
    groups: unused,
    metrics: unused,
    ready: unused,
    sensors: unused,
    aggregates: unused,
    files: unused,
    history: (_request, id) => {
      asked.push(id);
      return Promise.resolve(new Response("history"));
    },
    hosts: () => ({ allows: () => true }) as unknown as AllowedHosts,
  } as Routes);
  const id = fc.oneof(
    fc.constantFrom(".", "..", "...", "a/b", "../a", "?", "#", "%2E%2E", "a%"),
    fc.string({ unit: "binary", maxLength: 12 }),
    fc.string({ unit: fc.constantFrom(".", "/", "%", "?", "#", " ", "a"), maxLength: 6 }),
  );
  await fc.assert(
    fc.asyncProperty(id, async (id) => {
      fc.pre(checkSensorId(id) === null);
      const url = new URL(`/api/sensors/${encodeURIComponent(id)}/history?metric=t`, "http://h/");
      const response = await app(new Request(url));
      assertEquals([response.status, await response.text(), asked.pop()], [200, "history", id]);
    }),
    { numRuns: 500 },
  );
});
