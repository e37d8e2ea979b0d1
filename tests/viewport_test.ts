// Viewport windows end to end: a real server on port 0, readings posted
// over HTTP, real WebSocket clients that rebuild their window from the
// frames; each compared with a plain recomputation from the posted readings.
import * as jose from "jose";
import { assert, assertEquals } from "./testing/assert.ts";
import { ViewClient, ViewState } from "./testing/view_client.ts";
import { eventually, recompute } from "./testing/recompute.ts";
import type { PlainReading } from "./testing/recompute.ts";
import { listingCompare } from "./listing_order.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import type { Pulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";
import type { Config } from "../server/config/options.ts";
import { encodeClientStats } from "../protocol/mod.ts";
import type { ViewSpec } from "../protocol/mod.ts";

const BLOCK = 50; // rows a window's offset and end are rounded to (DEFAULT_WINDOW_LIMITS)
const GROUPS = ["plant-a/line-1", "plant-a/line-2", "plant-b/line-1"];

async function withServer(config: Partial<Config>, run: (server: Pulseboard) => Promise<void>) {
  const server = await startPulseboard({
    ...DEFAULT_CONFIG,
    port: 0,
    data: ":memory:",
    tickMs: 20,
    ...config,
  });
  try {
    await run(server);
  } finally {
    await server.shutdown();
    await server.finished;
  }
}

async function post(server: Pulseboard, batch: PlainReading[], posted: PlainReading[]) {
  const response = await fetch(new URL("/api/ingest", server.url), {
    method: "POST",
    body: JSON.stringify(batch.map((r) => ({
      sensorId: r.sensorId,
      group: r.group,
      timestamp: r.timeMs,
      reading: r.values,
    }))),
    headers: { "content-type": "application/json" },
  });
  assertEquals((await response.json()).accepted, batch.length);
  posted.push(...batch);
  // Durable is not yet merged: wait until the hub's view holds every sensor posted.
  const sensors = new Set(posted.map((r) => r.sensorId)).size;
  await eventually(() => server.hubStats.sensors === sensors, 5_000, "the hub took the readings");
}

/** `count` sensors, many with equal temperatures (ties), at time `round`. */
function fleet(round: number, count: number, t: (i: number) => number): PlainReading[] {
  return Array.from({ length: count }, (_, i) => ({
    sensorId: `s${i}`,
    group: GROUPS[i % GROUPS.length],
    timeMs: 1_767_225_600_000 + round * 1000 + i,
    values: { t: t(i), h: (i * 7 + round) % 50 },
  }));
}

interface Expect {
  sort?: { metric: string; direction: "asc" | "desc" } | null;
  idSubstring?: string;
  groupPrefix?: string | null;
  scope?: string[] | null;
  offset: number;
  limit: number;
}

/**
 * The window recomputed: sensors (in the scope) passing the filter, sorted
 * by the metric's last value (missing ones last) or by id, ties by id in
 * listing order in either direction; rows of the offset and end rounded out
 * to blocks.
 */
function expected(posted: readonly PlainReading[], o: Expect) {
  const state = recompute(posted);
  const group = new Map<string, string>();
  for (const r of posted) group.set(r.sensorId, r.group!);
  const within = (g: string, prefix: string) => g === prefix || g.startsWith(prefix + "/");
  const inTopic = [...group.keys()].filter((id) =>
    !o.scope || o.scope.some((p) => within(group.get(id)!, p))
  );
  const matching = inTopic.filter((id) =>
    id.toLowerCase().includes((o.idSubstring ?? "").toLowerCase()) &&
    (!o.groupPrefix || within(group.get(id)!, o.groupPrefix))
  );
  const key = (id: string) => o.sort ? state[`${id}/${o.sort.metric}`]?.last : undefined;
  const sign = o.sort?.direction === "desc" ? -1 : 1;
  matching.sort((a, b) => {
    if (!o.sort) return listingCompare(a, b);
    const x = key(a), y = key(b);
    if (x === undefined || y === undefined) {
      return x === y ? listingCompare(a, b) : x === undefined ? 1 : -1;
    }
    return sign * (x - y) || listingCompare(a, b);
  });
  const start = Math.floor(o.offset / BLOCK) * BLOCK;
  const end = Math.ceil((o.offset + o.limit) / BLOCK) * BLOCK;
  return {
    ids: matching.slice(start, end),
    total: inTopic.length,
    matching: matching.length,
    state,
  };
}

/** Whether the client's window is the recomputed one: rows, counts and every value shown. */
function shows(client: ViewState, want: ReturnType<typeof expected>): boolean {
  if (client.ids().join() !== want.ids.join()) return false;
  if (client.total !== want.total || client.matching !== want.matching) return false;
  return client.window().every((row) =>
    Object.entries(row.values).every(([metric, v]) => {
      const w = want.state[`${row.id}/${metric}`];
      return w !== undefined && v.last === w.last && v.min === w.min && v.max === w.max &&
        v.timeMs === w.timeMs && Math.abs(v.avg - w.avg) <= 0.005 + 1e-9;
    }) &&
    Object.keys(row.values).length ===
      Object.keys(want.state).filter((k) => k.startsWith(row.id + "/")).length
  );
}

function describe(client: ViewState, want: ReturnType<typeof expected>): string {
  return `client ${client.ids().slice(0, 8)} (${client.total}/${client.matching}) vs ${
    want.ids.slice(0, 8)
  } (${want.total}/${want.matching}); problems ${client.problems.slice(0, 3)}; errors ${
    JSON.stringify(client.errors)
  }`;
}

async function until(client: ViewState, want: () => ReturnType<typeof expected>, what: string) {
  try {
    await eventually(() => shows(client, want()), 5_000, what);
  } catch (error) {
    throw new Error(`${(error as Error).message}: ${describe(client, want())}`);
  }
  assertEquals(client.problems, []);
}

const byT = (direction: "asc" | "desc"): ViewSpec["sort"] => ({
  key: "metric",
  metric: "t",
  direction,
});

Deno.test("a window sorted by a metric shows the recomputed rows: ties in id order, missing values last, in both directions", async () => {
  await withServer({}, async (server) => {
    const posted: PlainReading[] = [];
    // 130 sensors, temperatures 0..6 (ties); 10 more report only humidity (missing t).
    await post(server, fleet(0, 130, (i) => i % 7), posted);
    await post(
      server,
      Array.from({ length: 10 }, (_, i) => ({
        sensorId: `x${i}`,
        group: "plant-b/line-2",
        timeMs: 1_767_225_600_500 + i,
        values: { h: i },
      })),
      posted,
    );
    const client = new ViewClient(server.url);
    await client.opened;
    client.view({ sort: byT("desc"), offset: 0, limit: 40 });
    await until(
      client,
      () => expected(posted, { sort: { metric: "t", direction: "desc" }, offset: 0, limit: 40 }),
      "descending",
    );
    // The last rows: the missing values, after every value (also descending).
    client.view({ sort: byT("desc"), offset: 120, limit: 20, order: "resort" });
    await until(
      client,
      () => expected(posted, { sort: { metric: "t", direction: "desc" }, offset: 120, limit: 20 }),
      "the end, descending",
    );
    assert(client.ids().slice(-10).every((id) => id.startsWith("x")), client.ids().join());
    client.view({ sort: byT("asc"), offset: 0, limit: 40, order: "resort" });
    await until(
      client,
      () => expected(posted, { sort: { metric: "t", direction: "asc" }, offset: 0, limit: 40 }),
      "ascending",
    );
    // Values move: the order follows (values re-order a view at most once a second).
    await post(server, fleet(1, 130, (i) => (i * 13) % 29), posted);
    await until(
      client,
      () => expected(posted, { sort: { metric: "t", direction: "asc" }, offset: 0, limit: 40 }),
      "after new values",
    );
    assertEquals(client.heldCount, client.rows.length, "the client holds only its rows");
    await client.close();
  });
});

Deno.test("a row that leaves the window and comes back brings its whole state again", async () => {
  await withServer({}, async (server) => {
    const posted: PlainReading[] = [];
    await post(server, fleet(0, 120, (i) => i), posted);
    const client = new ViewClient(server.url);
    await client.opened;
    const sort = { metric: "t", direction: "desc" as const };
    client.view({ sort: byT("desc"), offset: 0, limit: 50 });
    await until(client, () => expected(posted, { sort, offset: 0, limit: 50 }), "top 50");
    assert(client.ids().includes("s119"));
    // s119 drops to the bottom: it leaves the window, and s69 comes in.
    const leave = {
      sensorId: "s119",
      group: GROUPS[119 % 3],
      timeMs: 1_767_225_700_000,
      values: { t: -5, h: 1 },
    };
    await post(server, [leave], posted);
    await until(client, () => expected(posted, { sort, offset: 0, limit: 50 }), "s119 left");
    assert(!client.ids().includes("s119"));
    assertEquals(client.heldCount, 50, "nothing kept of a row that left");
    const entered = client.enteredRows;
    // Back to the top with new values: it enters again, whole (every metric, the newest values).
    const back = {
      sensorId: "s119",
      group: GROUPS[119 % 3],
      timeMs: 1_767_225_800_000,
      values: { t: 500, h: 2 },
    };
    await post(server, [back], posted);
    await until(client, () => expected(posted, { sort, offset: 0, limit: 50 }), "s119 back");
    assertEquals(client.ids()[0], "s119");
    assertEquals(client.enteredRows - entered, 1, "only s119 was sent whole");
    await client.close();
  });
});

Deno.test("a filter change sends only the rows new to the window; the counts follow the filter", async () => {
  await withServer({}, async (server) => {
    const posted: PlainReading[] = [];
    await post(server, fleet(0, 150, (i) => i % 10), posted);
    const client = new ViewClient(server.url);
    await client.opened;
    client.view({ offset: 0, limit: 100 });
    await until(client, () => expected(posted, { offset: 0, limit: 100 }), "by id");
    const before = new Set(client.ids());
    const entered = client.enteredRows;
    client.view({ filter: { idSubstring: "S1" }, offset: 0, limit: 100 });
    const want = () => expected(posted, { idSubstring: "s1", offset: 0, limit: 100 });
    await until(client, want, "filtered by id");
    const fresh = want().ids.filter((id) => !before.has(id)).length;
    assertEquals(client.enteredRows - entered, fresh, "rows it had were not sent again");
    assertEquals([client.total, client.matching], [150, want().matching]);
    client.view({ filter: { idSubstring: "s1", groupPrefix: "plant-a" }, offset: 0, limit: 100 });
    await until(
      client,
      () => expected(posted, { idSubstring: "s1", groupPrefix: "plant-a", offset: 0, limit: 100 }),
      "filtered by id and group",
    );
    assert(client.window().every((row) => row.group.startsWith("plant-a/")));
    await client.close();
  });
});

Deno.test("scrolling to any position shows the right rows, and keeps what it had", async () => {
  await withServer({}, async (server) => {
    const posted: PlainReading[] = [];
    await post(server, fleet(0, 1_000, (i) => (i * 7919) % 1000), posted);
    const client = new ViewClient(server.url);
    await client.opened;
    const sort = { metric: "t", direction: "asc" as const };
    for (const offset of [0, 30, 480, 950, 10, 700]) {
      client.view({ sort: byT("asc"), offset, limit: 40 });
      await until(client, () => expected(posted, { sort, offset, limit: 40 }), `offset ${offset}`);
      assertEquals(client.offset, Math.floor(offset / BLOCK) * BLOCK);
    }
    assertEquals(client.errors, []);
    await client.close();
  });
});

Deno.test("a client flipping a large window's sort is paced by its row budget, and is served its newest window", async () => {
  const rate = 400; // rows a second (--view-rows-per-connection), a burst of twice that
  await withServer({ viewRowsPerConnection: rate }, async (server) => {
    const posted: PlainReading[] = [];
    await post(server, fleet(0, 1_000, (i) => (i * 7919) % 1000), posted);
    const client = new ViewClient(server.url);
    await client.opened;
    const started = performance.now();
    // Ascending and descending 400-row windows of 1,000 sensors share no row: each flip is new whole.
    const flips = 12;
    for (let i = 0; i < flips; i++) {
      client.view({ sort: byT(i % 2 === 0 ? "asc" : "desc"), offset: 0, limit: 400 });
    }
    const last = { sort: { metric: "t", direction: "desc" as const }, offset: 0, limit: 400 };
    await until(client, () => expected(posted, last), "the newest window");
    const elapsedS = (performance.now() - started) / 1000;
    // The budget recounted: its burst, plus its refill over the time it took.
    const allowed = 2 * rate + rate * elapsedS;
    assert(
      client.enteredRows <= allowed,
      `${client.enteredRows} rows sent whole in ${elapsedS.toFixed(2)} s, over the ${
        allowed.toFixed(0)
      } the budget allows`,
    );
    assert(client.enteredRows < flips * 400, "unpaced, each flip would have sent 400 rows");
    assert(server.transport.feedViewsPaced > 0, "the held requests are counted");
    assertEquals(client.errors, [], "held, not refused");
    await client.close();
  });
});

Deno.test("a reconnect resumes its window: within the ring the missed frames, byte for byte; beyond it recovered=false and the whole window", async () => {
  await withServer({ ringMs: 4_000 }, async (server) => {
    const posted: PlainReading[] = [];
    await post(server, fleet(0, 80, (i) => i), posted);
    const spec: ViewSpec = { sort: byT("desc"), offset: 0, limit: 40 };
    const sort = { metric: "t", direction: "desc" as const };
    // A client that stays: it receives the stream's frames as they are made.
    const stays = new ViewClient(server.url);
    const leaves = new ViewClient(server.url);
    await Promise.all([stays.opened, leaves.opened]);
    stays.view(spec);
    leaves.view(spec);
    await until(leaves, () => expected(posted, { sort, offset: 0, limit: 40 }), "both open");
    await until(stays, () => expected(posted, { sort, offset: 0, limit: 40 }), "both open");
    await eventually(() => leaves.onStream, 3_000, "on its stream");
    await leaves.close();
    const resumeSeq = leaves.seq;
    for (let round = 1; round <= 3; round++) {
      await post(server, fleet(round, 80, (i) => (i * (round + 3)) % 80), posted);
    }
    await until(stays, () => expected(posted, { sort, offset: 0, limit: 40 }), "missed data");
    const back = new ViewClient(server.url, { resumeFrom: leaves });
    await back.opened;
    back.view(spec, true);
    await until(back, () => expected(posted, { sort, offset: 0, limit: 40 }), "resumed");
    assertEquals(back.subscribed.map((s) => [s.recovered, s.seq]), [[true, resumeSeq]]);
    assertEquals(back.kinds.whole, 0, "no whole window: a replay");
    // The replayed frames are the very bytes the client that stayed received for those seqs.
    const replayed = back.received.length;
    assert(replayed > 0, "frames were replayed");
    const sent = stays.received.slice(-replayed - 5);
    const tail = (frames: Uint8Array[]) => frames.map((f) => [...f].join(","));
    const replayedBytes = tail(back.received.slice(0, replayed));
    assert(
      replayedBytes.every((frame) => tail(sent).includes(frame)),
      "each replayed frame is one the stream sent",
    );
    await back.close();

    // Beyond the ring: recovered = false, the whole window, and the right state.
    const gone = new ViewState();
    gone.adopt(back);
    await new Promise((r) => setTimeout(r, 1_000));
    await post(server, fleet(9, 80, (i) => (i * 11) % 80), posted);
    await new Promise((r) => setTimeout(r, 4_200));
    const late = new ViewClient(server.url, { resumeFrom: gone });
    await late.opened;
    late.view(spec, true);
    await until(late, () => expected(posted, { sort, offset: 0, limit: 40 }), "resynced");
    assertEquals(late.subscribed.map((s) => s.recovered), [false]);
    assertEquals(late.kinds.whole, 1);
    await Promise.all([stays.close(), late.close()]);
  });
});

Deno.test("a window hiding a metric is sent only the others, resumes on its own stream, and gets the metric whole when it shows it again", async () => {
  await withServer({}, async (server) => {
    const posted: PlainReading[] = [];
    await post(server, fleet(0, 80, (i) => i), posted);
    const sort = { metric: "t", direction: "desc" as const };
    const spec: ViewSpec = { sort: byT("desc"), offset: 0, limit: 40, hiddenMetrics: ["h"] };
    // The recomputed rows, with t as posted and no h at all.
    const onlyT = (client: ViewState) => {
      const want = expected(posted, { sort, offset: 0, limit: 40 });
      return client.ids().join() === want.ids.join() &&
        client.window().every((row) =>
          Object.keys(row.values).join() === "t" &&
          row.values.t.last === want.state[`${row.id}/t`].last &&
          client.sparkline(row.id, "h") === undefined
        );
    };
    const hides = new ViewClient(server.url);
    await hides.opened;
    hides.view(spec);
    await eventually(() => onlyT(hides) && hides.onStream, 5_000, "t only, on its stream");
    await hides.close();
    await post(server, fleet(1, 80, (i) => (i * 5) % 80), posted);
    const back = new ViewClient(server.url, { resumeFrom: hides });
    await back.opened;
    back.view(spec, true);
    await eventually(() => onlyT(back), 5_000, "resumed, t only");
    assertEquals(back.subscribed.map((s) => s.recovered), [true]);
    assertEquals(back.kinds.whole, 0, "a replay of its own stream");
    // h shown again: the whole window, every value as recomputed.
    back.view({ ...spec, hiddenMetrics: [] });
    await until(back, () => expected(posted, { sort, offset: 0, limit: 40 }), "h shown");
    assertEquals(back.kinds.whole, 1);
    assertEquals(back.errors, []);
    await back.close();
  });
});

Deno.test("a scoped viewer's window never shows rows or counts outside its token's groups", async () => {
  const { publicKey, privateKey } = await jose.generateKeyPair("ES256");
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-view-jwt-" });
  await Deno.writeTextFile(`${dir}/public.pem`, await jose.exportSPKI(publicKey));
  try {
    await withServer({
      jwtIssuer: "https://id.example",
      jwtAudience: "pulseboard",
      jwtPublicKeyFile: `${dir}/public.pem`,
    }, async (server) => {
      const posted: PlainReading[] = [];
      await post(server, fleet(0, 90, (i) => 100 - i), posted);
      const token = await new jose.SignJWT({ groups: ["plant-a"] }).setProtectedHeader({
        alg: "ES256",
      }).setIssuer("https://id.example").setAudience("pulseboard").setSubject("viewer")
        .setExpirationTime("5m").sign(privateKey);
      const viewer = new ViewClient(server.url, { protocols: ["pulseboard", `bearer.${token}`] });
      await viewer.opened;
      const sort = { metric: "t", direction: "desc" as const };
      // Everything, for this viewer, is plant-a: the hottest sensors of plant-b are not its rows.
      viewer.view({ sort: byT("desc"), offset: 0, limit: 100 });
      await until(
        viewer,
        () => expected(posted, { sort, scope: ["plant-a"], offset: 0, limit: 100 }),
        "plant-a only",
      );
      assertEquals([viewer.total, viewer.matching], [60, 60]);
      assert(viewer.window().every((row) => row.group.startsWith("plant-a/")));
      // A filter on another group finds nothing; it does not widen the scope.
      viewer.view({ sort: byT("desc"), filter: { groupPrefix: "plant-b" }, offset: 0, limit: 100 });
      await eventually(() => viewer.matching === 0 && viewer.rows.length === 0, 5_000, "none");
      assertEquals(viewer.total, 60);
      // A view over a group outside the token is refused; the window stays as it was.
      viewer.view({ subscriptions: [{ id: 1, group: "plant-b" }], offset: 0, limit: 100 });
      await eventually(() => viewer.errors.length === 1, 5_000, "refused");
      assert(
        /outside your token's groups/.test(viewer.errors[0].message),
        viewer.errors[0].message,
      );
      assertEquals(viewer.total, 60);
      await viewer.close();
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bad view requests get an Error naming the problem and leave the window as it was", async () => {
  await withServer({ maxSubscriptions: 2 }, async (server) => {
    const posted: PlainReading[] = [];
    await post(server, fleet(0, 20, (i) => i), posted);
    const client = new ViewClient(server.url);
    await client.opened;
    client.view({ offset: 0, limit: 20 });
    await until(client, () => expected(posted, { offset: 0, limit: 20 }), "open");
    const cases: [ViewSpec, RegExp][] = [
      [{ sort: { key: "metric", metric: "nope" }, offset: 0, limit: 20 }, /unknown metric "nope"/],
      [{ offset: 0, limit: 5_000 }, /limit 5000 is not an integer in 1\.\.1000/],
      [{ filter: { groupPrefix: "bad group!" }, offset: 0, limit: 20 }, /not a path of segments/],
      [{ filter: { idSubstring: "x".repeat(200) }, offset: 0, limit: 20 }, /longer than 128/],
      [
        {
          subscriptions: [{ id: 1, group: "a" }, { id: 2, group: "b" }, { id: 3, group: "c" }],
          offset: 0,
          limit: 20,
        },
        /at most 2 subscriptions/,
      ],
      [{ subscriptions: [{ id: 1 }], offset: 0, limit: 20 }, /names nothing/],
    ];
    for (const [spec, message] of cases) {
      const before = client.errors.length;
      client.view(spec);
      await eventually(() => client.errors.length === before + 1, 5_000, String(message));
      const error = client.errors.at(-1)!;
      assert(message.test(error.message), `${error.message} ~ ${message}`);
      assertEquals(error.code, 0, "the connection stays");
    }
    await until(client, () => expected(posted, { offset: 0, limit: 20 }), "unchanged");
    assertEquals(client.socket.readyState, WebSocket.OPEN);
    await client.close();
  });
});

Deno.test("a client that reports slow frames is told it is sent less often; reporting fast frames, it is moved back up", async () => {
  await withServer({ tickMs: 100 }, async (server) => {
    const posted: PlainReading[] = [];
    await post(server, fleet(0, 60, (i) => i), posted);
    const client = new ViewClient(server.url);
    await client.opened;
    client.view({ sort: byT("desc"), offset: 0, limit: 40 });
    await eventually(() => client.intervalMs === 100, 5_000, "every tick");
    let round = 1;
    let feeding = true;
    const feeder = (async () => {
      while (feeding) {
        await post(server, fleet(round++, 60, (i) => (i * round) % 61), posted);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      // 150 ms from arrival to screen does not fit in half of 100 ms: one step down.
      client.socket.send(encodeClientStats(150, 10));
      await eventually(() => client.intervalMs === 200, 5_000, "5 Hz");
      // Fast again: after 5 s clean, back up.
      client.socket.send(encodeClientStats(10, 10));
      await eventually(() => client.intervalMs === 100, 10_000, "10 Hz again");
    } finally {
      feeding = false;
      await feeder;
    }
    const sort = { metric: "t", direction: "desc" as const };
    await until(client, () => expected(posted, { sort, offset: 0, limit: 40 }), "the window");
    assertEquals(client.kinds.whole, 1, "no catch-up");
    await client.close();
  });
});

Deno.test("an address at its share of views is refused naming --max-views, windows beyond --max-windows are refused, and the windows open keep their rows", async () => {
  await withServer({ maxViews: 8, viewsPerClient: 2, maxWindows: 3 }, async (server) => {
    const posted: PlainReading[] = [];
    await post(server, fleet(0, 30, (i) => i % 7), posted);
    const open = async (spec: ViewSpec) => {
      const client = new ViewClient(server.url);
      await client.opened;
      client.view(spec);
      return client;
    };
    const refused = async (client: ViewClient, message: RegExp) => {
      await eventually(() => client.errors.length === 1, 5_000, String(message));
      assert(message.test(client.errors[0].message), `${client.errors[0].message} ~ ${message}`);
      assertEquals(client.errors[0].code, 0, "the connection stays");
      assertEquals(client.socket.readyState, WebSocket.OPEN);
    };
    // Every client here comes from 127.0.0.1: one owner, a share of 2 views.
    const byId = await open({ offset: 0, limit: 20 });
    const hottest = await open({ sort: byT("desc"), offset: 0, limit: 20 });
    await until(byId, () => expected(posted, { offset: 0, limit: 20 }), "by id");
    const sort = { metric: "t", direction: "desc" as const };
    await until(hottest, () => expected(posted, { sort, offset: 0, limit: 20 }), "hottest");
    const third = await open({ sort: byT("asc"), offset: 0, limit: 20 });
    await refused(third, /already holds 2 views \(its share of --max-views\)/);
    // A view already open is shared, not another view: the third window gets it.
    third.view({ offset: 0, limit: 20 });
    await until(third, () => expected(posted, { offset: 0, limit: 20 }), "a shared view");
    const fourth = await open({ offset: 0, limit: 20 });
    await refused(fourth, /already serves 3 view windows/);
    assertEquals(fourth.ids(), [], "a refused window shows nothing");
    // The windows open keep flowing.
    await post(server, fleet(1, 30, (i) => (i * 5) % 11), posted);
    await until(byId, () => expected(posted, { offset: 0, limit: 20 }), "by id, after");
    await until(hottest, () => expected(posted, { sort, offset: 0, limit: 20 }), "hottest, after");
    for (const c of [byId, hottest, third, fourth]) await c.close();
  });
});
