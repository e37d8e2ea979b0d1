import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import { ApiClient } from "./client.ts";
import { ApiError } from "./api_error.ts";

function fakeFetch(respond: (url: string, init?: RequestInit) => Response) {
  const calls: { url: string; init?: RequestInit }[] = [];
  const fetch = (input: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ url: String(input), init });
    return Promise.resolve(respond(String(input), init));
  };
  return { calls, fetch: fetch as typeof globalThis.fetch };
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

const aggregates = { group: "g", window: "1s", windowMs: 1000, asOfMs: 1, metrics: [] };

Deno.test("client sends the feed's bearer token, read at each call", async () => {
  let token: string | null = null;
  const { calls, fetch } = fakeFetch(() => json(aggregates));
  const client = new ApiClient({ fetch, token: () => token, baseUrl: "http://h" });
  await client.aggregates({ group: "g", window: "1s" });
  token = "jwt";
  await client.aggregates({ group: "g", window: "1s" });
  const auth = calls.map((c) => new Headers(c.init?.headers).get("authorization"));
  assertEquals(auth, [null, "Bearer jwt"]);
  assertEquals(calls[0].url, "http://h/api/aggregates?group=g&window=1s");
});

Deno.test("client turns { error, detail } into an ApiError with the status", async () => {
  const { fetch } = fakeFetch(() => json({ error: "Not Found", detail: "No API at /api/x" }, 404));
  const client = new ApiClient({ fetch });
  const error = await client.sensors().catch((e) => e);
  assert(error instanceof ApiError);
  assertEquals([error.status, error.error, error.detail], [404, "Not Found", "No API at /api/x"]);
});

Deno.test("client reports a non-JSON error body, a bad shape and a network failure", async () => {
  const html = new ApiClient({
    fetch: fakeFetch(() =>
      new Response("<html>", { status: 502, statusText: "Bad Gateway" })
    ).fetch,
  });
  await rejects(html.sensors(), (e: ApiError) => e.status === 502 && e.error === "Bad Gateway");
  const shape = new ApiClient({ fetch: fakeFetch(() => json({ sensors: 1 })).fetch });
  await rejects(
    shape.sensors(),
    (e: ApiError) => e.error === "invalid response" && /sensors is not an array/.test(e.detail),
  );
  const down = new ApiClient({ fetch: () => Promise.reject(new TypeError("connection refused")) });
  await rejects(down.sensors(), (e: ApiError) => e.status === 0 && /refused/.test(e.detail));
});

Deno.test("client passes an abort through as the abort, not as an ApiError", async () => {
  const controller = new AbortController();
  controller.abort();
  const client = new ApiClient({
    fetch: (_input, init) => Promise.reject(init?.signal?.reason ?? new Error("aborted")),
  });
  const error = await client.history(
    "s",
    { metric: "m", from: 0, to: 1, maxPoints: 10 },
    controller.signal,
  )
    .catch((e) => e);
  assert(!(error instanceof ApiError));
});
