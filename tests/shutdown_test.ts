// SIGTERM while requests are unfinished: the drain is bounded. It aborts
// what has not finished, takes the final checkpoint and exits.
import { assert, assertEquals } from "./testing/assert.ts";
import { spawnServer } from "./testing/server_process.ts";

const encoder = new TextEncoder();

/** Starts a POST /api/ingest whose body never finishes; resolves once the server is reading it. */
async function unfinishedIngest(url: URL): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
  await conn.write(encoder.encode(
    `POST /api/ingest HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\n` +
      'Content-Length: 100000\r\n\r\n[{"sensorId":"never-finished",',
  ));
  return conn;
}

/** Resolves when the server ends the connection (EOF, reset or an answer followed by EOF). */
async function ended(conn: Deno.TcpConn): Promise<void> {
  const buffer = new Uint8Array(4096);
  try {
    while ((await conn.read(buffer)) !== null) { /* an answer, if any */ }
  } catch {
    /* reset */
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

async function health(url: URL) {
  return await (await fetch(new URL("/healthz", url))).json();
}

Deno.test({
  name:
    "SIGTERM with two unfinished ingest bodies exits within a few seconds, after a final checkpoint",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-drain-" });
  const data = `${dir}/store.kv`;
  // Checkpoints only at a clean stop: the periodic one is an hour away.
  const args = ["--port", "0", "--data", data, "--checkpoint", "3600000"];
  try {
    const first = await spawnServer(args);
    const url = new URL(first.url);
    let exited = false;
    first.child.status.then(() => exited = true);
    try {
      const readings = Array.from({ length: 50 }, (_, i) => ({
        sensorId: `s${i}`,
        timestamp: Date.now(),
        reading: { v: i },
      }));
      const response = await fetch(new URL("/api/ingest", url), {
        method: "POST",
        body: JSON.stringify(readings),
        headers: { "content-type": "application/json" },
      });
      assertEquals((await response.json()).accepted, 50);
      const stalled = [await unfinishedIngest(url), await unfinishedIngest(url)];
      const read = (await health(url)).log.readingsRead;
      assertEquals(read, 50, "the source has read the acknowledged readings");
      await new Promise((r) => setTimeout(r, 300)); // both bodies are being read

      const signalledAt = Date.now();
      first.child.kill("SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const status = await Promise.race([
        first.child.status,
        new Promise<null>((r) => timer = setTimeout(() => r(null), 10_000)),
      ]);
      clearTimeout(timer);
      assert(status !== null, "the server was still running 10 s after SIGTERM");
      assertEquals(status.code, 0, "a clean exit");
      console.log(`exited ${Date.now() - signalledAt} ms after SIGTERM`);
      // The unfinished requests were aborted, not left hanging.
      await Promise.all(stalled.map(ended));
    } finally {
      if (!exited) {
        first.child.kill("SIGKILL");
        await first.child.status;
      }
    }

    const second = await spawnServer(args);
    try {
      let state = await health(new URL(second.url));
      const deadline = Date.now() + 10_000;
      while (!state.log.caughtUp && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        state = await health(new URL(second.url));
      }
      assert(state.log.caughtUp, "the restarted source caught up");
      assert(state.log.startCursor !== null, "the restart began from a checkpoint");
      assertEquals(state.log.readingsRead, 0, "the final checkpoint covered every reading");
    } finally {
      second.child.kill("SIGTERM");
      await second.child.status;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
