// Ingest with API keys made by the real CLI on the server's own Deno KV file.
import { assert, assertEquals } from "./testing/assert.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import { spawnServer, stopServer } from "./testing/server_process.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";
import { keyIn, keysCli } from "./testing/keys_cli.ts";

const cli = keysCli;

Deno.test("with API keys, ingest needs a key, keeps each key to its groups, limits its rate, and honours revocation", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-keys-" });
  const data = `${dir}/store.kv`;
  const server = await startPulseboard({ ...DEFAULT_CONFIG, port: 0, data });
  const post = (docs: unknown[], key?: string) =>
    fetch(new URL("/api/ingest", server.url), {
      method: "POST",
      body: JSON.stringify(docs),
      headers: {
        "content-type": "application/json",
        ...(key ? { authorization: `Bearer ${key}` } : {}),
      },
    });
  const reading = (sensorId: string, group: string) => ({
    sensorId,
    group,
    timestamp: Date.now(),
    reading: { t: 1 },
  });
  try {
    // No keys yet: open (the server warns at start).
    assertEquals((await (await post([reading("s0", "plant-a/line-1")])).json()).accepted, 1);

    const created = await cli([
      "create",
      "--name",
      "gateway-a",
      "--groups",
      "plant-a",
      "--data",
      data,
    ]);
    const key = created.match(/pb_[a-z0-9]{12}_[A-Za-z0-9_-]{43}/)![0];
    const id = key.split("_")[1];
    assert((await cli(["list", "--data", data])).includes(`${id}  gateway-a  groups=plant-a`));
    await new Promise((r) => setTimeout(r, 5_100)); // the server's key cache

    const anonymous = await post([reading("s1", "plant-a/line-1")]);
    assertEquals(anonymous.status, 401);
    assert(anonymous.headers.get("www-authenticate")!.startsWith("Bearer"));
    await anonymous.body?.cancel();

    const mixed = await post([
      reading("s1", "plant-a/line-1"),
      reading("s2", "plant-b/line-1"),
      { sensorId: "", timestamp: 1, reading: { t: 1 } },
      reading("s3", "plant-a"),
      reading("s4", ""),
    ], key);
    const body = await mixed.json();
    assertEquals(body.accepted, 2);
    assertEquals(body.refused.map((r: { index: number }) => r.index), [1, 2, 4]);
    assertEquals(body.refused[0].reason, 'group "plant-b/line-1" is not allowed for this key');
    assertEquals(body.refused[2].reason, 'group "default" is not allowed for this key');

    let limited: Response | null = null;
    for (let i = 0; i < 200 && !limited; i++) {
      const response = await post([reading("s1", "plant-a/line-1")], key);
      if (response.status === 429) limited = response;
      else await response.body?.cancel();
    }
    assert(limited !== null, "the key's request rate is limited");
    assertEquals(limited.headers.get("retry-after"), "1");
    await limited.body?.cancel();

    await cli(["revoke", id, "--data", data]);
    await new Promise((r) => setTimeout(r, 5_100));
    const revoked = await post([reading("s1", "plant-a/line-1")], key);
    assertEquals(revoked.status, 401);
    await revoked.body?.cancel();
  } finally {
    await server.shutdown();
    await server.finished;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("listening on a non-loopback address without --insecure is refused with a clear message", async () => {
  let message = "";
  try {
    await startPulseboard({ ...DEFAULT_CONFIG, host: "0.0.0.0", port: 0, data: ":memory:" });
  } catch (error) {
    message = (error as Error).message;
  }
  assert(/Refusing to listen on 0\.0\.0\.0.*--insecure/.test(message), message);
});

Deno.test("a key may not write a sensor of another key's group: not while it is on its way, not once it is known, not after a crash (503 until the log is read again)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-keys-" });
  const data = `${dir}/store.kv`;
  const keyOf = keyIn;
  const a = keyOf(await cli(["create", "--name", "a", "--groups", "plant-a", "--data", data]));
  const b = keyOf(await cli(["create", "--name", "b", "--groups", "plant-b", "--data", data]));
  const args = ["--port", "0", "--data", data, "--tick", "20"];
  let server = await spawnServer(args);
  const send = async (key: string, docs: unknown[]) => {
    const response = await fetch(new URL("/api/ingest", server.url), {
      method: "POST",
      body: JSON.stringify(docs),
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    });
    return {
      status: response.status,
      retryAfter: response.headers.get("retry-after"),
      body: await response.json(),
    };
  };
  const post = async (key: string, docs: unknown[]) => {
    const { status, body } = await send(key, docs);
    assertEquals(status, 200, JSON.stringify(body));
    return body as { accepted: number; refused: { reason: string }[] };
  };
  const ready = async () => {
    while (
      (await fetch(new URL("/readyz", server.url)).then((r) =>
        r.body?.cancel().then(() => r.status)
      )) !== 200
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const t0 = Date.now() - 1_000;
  const reading = (sensorId: string, group: string, t: number, at = 0) => ({
    sensorId,
    group,
    timestamp: t0 + at,
    reading: { temperature: t },
  });
  const listed = async (id: string) => {
    const page = await (await fetch(new URL(`/api/sensors?q=${id}`, server.url))).json();
    return page.sensors.find((s: { id: string }) => s.id === id) as
      | { group: string; metrics: { temperature: { value: number; min: number; max: number } } }
      | undefined;
  };
  const inGroup = async (id: string, group: string) => {
    while ((await listed(id))?.group !== group) await new Promise((r) => setTimeout(r, 20));
  };
  const refusedAs = (group: string) =>
    `sensor "victim" is in group "${group}", which this key may not write`;
  try {
    await ready();
    assertEquals((await post(b, [reading("victim", "plant-b/l1", 20)])).accepted, 1);
    // At once, before any shard has reported it: the claim of b's reading stands.
    const racing = await post(a, [reading("victim", "plant-a/l1", 99, 1)]);
    assertEquals([racing.accepted, racing.refused[0]?.reason], [0, refusedAs("plant-b/l1")]);
    await inGroup("victim", "plant-b/l1");
    const later = await post(a, [
      reading("victim", "plant-a/l1", 99, 2),
      reading("mine", "plant-a/l1", 5),
    ]);
    assertEquals([later.accepted, later.refused.map((r) => r.reason)], [1, [
      refusedAs("plant-b/l1"),
    ]]);
    // Within its own groups a key may move its sensor; the other key may not take a's new one.
    assertEquals((await post(b, [reading("victim", "plant-b/l2", 21, 3)])).accepted, 1);
    const taking = await post(b, [reading("mine", "plant-b/l1", 6, 1)]);
    assertEquals(
      taking.refused[0]?.reason,
      'sensor "mine" is in group "plant-a/l1", which this key may not write',
    );
    await inGroup("victim", "plant-b/l2");
    // b's readings only: a's 99 never reached the sensor.
    const victim = (await listed("victim"))!;
    assertEquals([victim.metrics.temperature.min, victim.metrics.temperature.max], [20, 21]);

    // A tail for the restarted server to read (readings of b's other sensors), then the move.
    for (let batch = 0; batch < 8; batch++) {
      const fill = Array.from(
        { length: 10_000 },
        (_, i) => reading(`fill-${i}`, "plant-b/f", batch, 5 + batch),
      );
      assertEquals((await post(b, fill)).accepted, 10_000);
    }
    assertEquals((await post(b, [reading("victim", "plant-b/l3", 22, 20)])).accepted, 1);
    // Killed: no checkpoint holds any of this, the restarted server reads it all from the log.
    await stopServer(server, "SIGKILL");
    server = await spawnServer(
      args.filter((arg, i) => arg !== "--tick" && args[i - 1] !== "--tick"),
    );
    const answers: number[] = [];
    for (;;) {
      const hijack = await send(a, [reading("victim", "plant-a/l1", 99, 4)]);
      answers.push(hijack.status);
      if (hijack.status === 503) {
        assertEquals(hijack.retryAfter, "1");
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      assertEquals([hijack.status, hijack.body.accepted, hijack.body.refused[0]?.reason], [
        200,
        0,
        refusedAs("plant-b/l3"),
      ], answers.join(","));
      break;
    }
    await ready();
    const after = (await listed("victim"))!;
    assertEquals([after.group, after.metrics.temperature.max], ["plant-b/l3", 22]);
  } finally {
    await stopServer(server);
    await Deno.remove(dir, { recursive: true });
  }
});
