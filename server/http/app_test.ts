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

Deno.test("what answers GET answers HEAD too, and other methods get 405 naming GET and HEAD", async () => {
  const ok = () => new Response("ok");
  const app = createApp({
    ingest: unused,
    ingestStatus: () => Promise.resolve(ok()),
    feed: unused,
    health: () => ({ status: "ok" }),
    groups: () => Promise.resolve(ok()),
    metrics: () => Promise.resolve(ok()),
    ready: () => ({ ready: true, problems: [] }),
    sensors: ok,
    aggregates: ok,
    metricMeta: ok,
    files: unused,
    history: () => Promise.resolve(ok()),
    hosts: () => ({ allows: () => true }) as unknown as AllowedHosts,
  } as Routes);
  const paths = [
    "/healthz",
    "/readyz",
    "/metrics",
    "/api/groups",
    "/api/sensors",
    "/api/metrics",
    "/api/aggregates",
    "/api/ingest/b1",
    "/api/sensors/s1/history",
  ];
  for (const path of paths) {
    for (const method of ["GET", "HEAD"]) {
      const response = await app(new Request(`http://h${path}`, { method }));
      assertEquals([method, path, response.status], [method, path, 200]);
    }
    for (const method of ["PUT", "DELETE", "PATCH", "POST"]) {
      const response = await app(new Request(`http://h${path}`, { method }));
      assertEquals([method, path, response.status, response.headers.get("allow")], [
        method,
        path,
        405,
        "GET, HEAD",
      ]);
    }
  }
});
