// GET /api/sensors and a sensor's history against a large fleet: loads
// `--sensors` sensors into a running server (POST /api/ingest, batches of
// 10,000 JSON readings, one reading each, 100 groups), then times pages,
// a walk through every page, filtered pages, history by id, and /healthz
// while 4 page requests run at once. Times are ms per request, median of
// `--repeat`.
//
//   PULSEBOARD_JWT_SECRET=... deno task start --port 18731 --data :memory: \
//     --jwt-issuer bench --jwt-audience bench
//   PULSEBOARD_JWT_SECRET=... deno run -A bench/sensors_paging.ts \
//     --url http://127.0.0.1:18731 --sensors 250000
//
// Without PULSEBOARD_JWT_SECRET the requests carry no token (a server
// without JWTs); with it, a token of `--groups` (default `*`).
import * as jose from "jose";

const args = new Map<string, string>();
for (let i = 0; i < Deno.args.length; i += 2) args.set(Deno.args[i], Deno.args[i + 1]);
const url = new URL(args.get("--url") ?? "http://127.0.0.1:18731");
const sensors = Number(args.get("--sensors") ?? 100_000);
const repeat = Number(args.get("--repeat") ?? 9);
const walkPages = Number(args.get("--walk-pages") ?? 25);
const secret = Deno.env.get("PULSEBOARD_JWT_SECRET");
/** The token's groups (with PULSEBOARD_JWT_SECRET), comma-separated. */
const groups = (args.get("--groups") ?? "*").split(",");

const headers: Record<string, string> = {};
if (secret) {
  const token = await new jose.SignJWT({ groups }).setProtectedHeader({ alg: "HS256" })
    .setIssuer("bench").setAudience("bench").setSubject("bench").setExpirationTime("1h")
    .sign(new TextEncoder().encode(secret));
  headers.authorization = `Bearer ${token}`;
}

const id = (i: number) => `sensor_${i}`;
const group = (i: number) => `plant-${i % 10}/line-${i % 100}`;

async function get(path: string): Promise<{ ms: number; body: Record<string, unknown> }> {
  const started = performance.now();
  const response = await fetch(new URL(path, url), { headers });
  const body = await response.json();
  const ms = performance.now() - started;
  if (response.status !== 200) {
    throw new Error(`${path}: ${response.status} ${JSON.stringify(body)}`);
  }
  return { ms, body };
}

async function count(): Promise<number> {
  const health = await (await fetch(new URL("/healthz", url))).json();
  return health.fleet?.sensors ?? 0;
}

const have = await count();
if (have < sensors) {
  const started = performance.now();
  const now = Date.now();
  for (let from = have; from < sensors; from += 10_000) {
    const docs = [];
    for (let i = from; i < Math.min(sensors, from + 10_000); i++) {
      docs.push({ sensorId: id(i), group: group(i), timestamp: now, reading: { t: i % 100 } });
    }
    const response = await fetch(new URL("/api/ingest", url), {
      method: "POST",
      body: JSON.stringify(docs),
      headers: { "content-type": "application/json" },
    });
    const answer = await response.json();
    if (answer.accepted !== docs.length) throw new Error(JSON.stringify(answer).slice(0, 400));
  }
  // Until the hub lists them all.
  for (let i = 0;; i++) {
    if (i === 100) throw new Error("the last sensor is not listed: is the token's scope right?");
    const last = await get(`/api/sensors?q=${id(sensors - 1)}&limit=1`);
    if ((last.body.sensors as unknown[]).length === 1) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  console.log(`loaded ${sensors - have} sensors in ${(performance.now() - started).toFixed(0)} ms`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

async function time(label: string, path: string): Promise<void> {
  await get(path); // warm
  const times: number[] = [];
  for (let i = 0; i < repeat; i++) times.push((await get(path)).ms);
  console.log(`${label.padEnd(44)} ${median(times).toFixed(1).padStart(8)} ms  (${path})`);
}

console.log(
  `${await count()} sensors, median of ${repeat}, token: ${secret ? groups.join(",") : "none"}`,
);
await time("first page, limit=1", "/api/sensors?limit=1");
await time("first page, limit=100", "/api/sensors?limit=100");
await time("first page, limit=1000", "/api/sensors?limit=1000");
const middle = btoa(id(Math.floor(sensors / 2))).replaceAll("+", "-").replaceAll("/", "_")
  .replaceAll("=", "");
await time("a page from the middle, limit=100", `/api/sensors?limit=100&cursor=${middle}`);
await time("group (1% of the fleet), limit=100", "/api/sensors?group=plant-3/line-13&limit=100");
await time("group (10% of the fleet), limit=100", "/api/sensors?group=plant-3&limit=100");
await time("q matching one sensor", `/api/sensors?q=${id(sensors - 7)}&limit=100`);
await time("history of one sensor", `/api/sensors/${id(sensors - 7)}/history?metric=t`);

// A walk through consecutive pages of 1,000 from the start.
{
  const times: number[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < walkPages; page++) {
    const result = await get(`/api/sensors?limit=1000${cursor ? `&cursor=${cursor}` : ""}`);
    times.push(result.ms);
    cursor = result.body.nextCursor as string | null;
    if (!cursor) break;
  }
  const total = times.reduce((a, b) => a + b, 0);
  console.log(
    `${`walk: ${times.length} pages of 1000`.padEnd(44)} ${
      (total / times.length).toFixed(1).padStart(8)
    } ms  (per page; ${total.toFixed(0)} ms in all)`,
  );
}

// /healthz while 4 first pages of limit=1 are asked at once.
{
  const delays: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const pages = Array.from({ length: 4 }, () => get("/api/sensors?limit=1"));
    await new Promise((r) => setTimeout(r, 5)); // the pages are asked first
    const started = performance.now();
    const health = await fetch(new URL("/healthz", url));
    await health.body?.cancel();
    delays.push(performance.now() - started);
    await Promise.all(pages);
  }
  console.log(
    `${"/healthz behind 4 parallel limit=1 pages".padEnd(44)} ${
      median(delays).toFixed(1).padStart(8)
    } ms`,
  );
}
