// The read API end to end: real servers on port 0, one verifying ES256
// dashboard tokens and one without tokens, fed through POST /api/ingest.
import * as jose from "jose";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { startPulseboard } from "../pulseboard.ts";
import type { Pulseboard } from "../pulseboard.ts";
import { DEFAULT_CONFIG } from "../config/options.ts";

const ISSUER = "https://id.example";
const AUDIENCE = "pulseboard";
/** 3 sensors in plant-a, 2 in plant-b; ids in code-unit order are not in number order. */
const SENSORS = [
  ["s1", "plant-a/line-1"],
  ["s10", "plant-a/line-1"],
  ["s2", "plant-a/line-2"],
  ["S3", "plant-b/line-1"],
  ["s30", "plant-b/line-1"],
] as const;
const BY_ID = ["S3", "s1", "s10", "s2", "s30"];

/** The fields these tests read from the answers. */
interface Body {
  sensors: { id: string }[];
  nextCursor: string | null;
  groups: { sensors: number }[];
  metrics: unknown;
  from: number;
  to: number;
  error: string;
  detail: string;
}
type Get = (path: string, groups?: string[]) => Promise<{ status: number; body: Body }>;

/** A server holding SENSORS (with tokens: `get` signs one for `groups`, default `*`). */
async function withServer(
  options: { tokens: boolean },
  run: (get: Get, server: Pulseboard) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-read-api-" });
  const { publicKey, privateKey } = await jose.generateKeyPair("ES256");
  await Deno.writeTextFile(`${dir}/public.pem`, await jose.exportSPKI(publicKey));
  const server = await startPulseboard({
    ...DEFAULT_CONFIG,
    port: 0,
    data: ":memory:",
    tickMs: 20,
    ...(options.tokens
      ? { jwtIssuer: ISSUER, jwtAudience: AUDIENCE, jwtPublicKeyFile: `${dir}/public.pem` }
      : {}),
  });
  const get: Get = async (path, groups = ["*"]) => {
    const headers: Record<string, string> = {};
    if (options.tokens) {
      const token = await new jose.SignJWT({ groups }).setProtectedHeader({ alg: "ES256" })
        .setIssuer(ISSUER).setAudience(AUDIENCE).setSubject("viewer").setExpirationTime("1h")
        .sign(privateKey);
      headers.authorization = `Bearer ${token}`;
    }
    const response = await fetch(new URL(path, server.url), { headers });
    return { status: response.status, body: await response.json() };
  };
  try {
    const response = await fetch(new URL("/api/ingest", server.url), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(
        SENSORS.map(([sensorId, group], i) => ({
          sensorId,
          group,
          timestamp: Date.now(),
          reading: { t: i },
        })),
      ),
    });
    assertEquals((await response.json()).accepted, SENSORS.length);
    // Until the hub lists them all.
    for (let i = 0; (await get("/api/sensors")).body.sensors?.length !== SENSORS.length; i++) {
      assert(i < 250, "every sensor listed");
      await new Promise((r) => setTimeout(r, 20));
    }
    await run(get, server);
  } finally {
    await server.shutdown();
    await server.finished;
    await Deno.remove(dir, { recursive: true });
  }
}

const ids = (body: Body) => body.sensors.map((s) => s.id);

Deno.test('a token of groups ["*"] lists every sensor in /api/sensors, as /api/groups counts them', async () => {
  await withServer({ tokens: true }, async (get) => {
    const all = await get("/api/sensors");
    assertEquals([all.status, ids(all.body)], [200, BY_ID]);
    const groups = (await get("/api/groups")).body.groups;
    assertEquals(groups.reduce((n, g) => n + g.sensors, 0), SENSORS.length);
    // "*" beside other prefixes is every group, too; the filters still apply.
    assertEquals(ids((await get("/api/sensors", ["plant-a", "*"])).body), BY_ID);
    assertEquals(ids((await get("/api/sensors?group=plant-b")).body), ["S3", "s30"]);
    assertEquals(ids((await get("/api/sensors?q=s3")).body), ["S3", "s30"]);
    // A narrower token lists its groups only.
    assertEquals(ids((await get("/api/sensors", ["plant-a"])).body), ["s1", "s10", "s2"]);
    // History and aggregates take "*" as they did.
    assertEquals((await get("/api/sensors/S3/history?metric=t")).status, 200);
    assertEquals((await get("/api/aggregates?group=plant-b")).status, 200);
  });
});

Deno.test("pages follow their cursors through every sensor in id order (code units), without repeats", async () => {
  await withServer({ tokens: false }, async (get) => {
    for (const limit of [1, 2, 3, 5]) {
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 10; page++) {
        const { status, body } = await get(
          `/api/sensors?limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`,
        );
        assertEquals(status, 200);
        seen.push(...ids(body));
        cursor = body.nextCursor;
        if (cursor === null) break;
      }
      assertEquals(seen, BY_ID, `limit ${limit}`);
    }
  });
});

for (const tokens of [false, true]) {
  Deno.test(`${tokens ? "with" : "without"} tokens, an unknown sensor's history and an unknown metric's aggregates are 404 naming them`, async () => {
    await withServer({ tokens }, async (get) => {
      const unknown = await get("/api/sensors/nobody/history?metric=t");
      assertEquals(unknown.status, 404);
      assertEquals(unknown.body.error, "not_found");
      assert(unknown.body.detail.includes('"nobody"'), unknown.body.detail);
      assertEquals((await get("/api/sensors/s10/history?metric=t")).status, 200);
      if (tokens) {
        // Outside the token's groups: the same answer as unknown.
        const foreign = await get("/api/sensors/S3/history?metric=t", ["plant-a"]);
        assertEquals(foreign.status, 404);
        assert(foreign.body.detail.includes('"S3"'), foreign.body.detail);
      }
      const typo = await get("/api/aggregates?metric=temprature");
      assertEquals(typo.status, 404);
      assert(typo.body.detail.includes('"temprature"'), typo.body.detail);
      const known = await get("/api/aggregates?metric=t");
      assertEquals([known.status, Array.isArray(known.body.metrics)], [200, true]);
      // A name that cannot be a metric at all is a bad request.
      const bad = await get("/api/aggregates?metric=" + encodeURIComponent("no such"));
      assertEquals(bad.status, 400);
    });
  });
}

Deno.test("history times past a Date's range are refused, and the default hour before an early `to` starts at 0", async () => {
  await withServer({ tokens: false }, async (get) => {
    const early = await get("/api/sensors/s1/history?metric=t&to=1000");
    assertEquals(early.status, 200);
    assertEquals([early.body.from, early.body.to], [0, 1000]);
    for (const query of ["to=9999999999999999", "from=9999999999999999&to=1"]) {
      const { status, body } = await get(`/api/sensors/s1/history?metric=t&${query}`);
      assertEquals(status, 400, query);
      assert(/at most 8640000000000000/.test(body.detail), body.detail);
    }
    const latest = await get("/api/sensors/s1/history?metric=t&to=8640000000000000");
    assertEquals([latest.status, latest.body.to], [200, 8_640_000_000_000_000]);
  });
});
