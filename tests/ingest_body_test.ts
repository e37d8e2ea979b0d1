// Broken uploads over a raw socket: a malformed chunked body is the client's
// error (400 with the JSON error shape, a warn line), an upload the client
// abandons is routine (a debug line); neither is an error-level log line or
// carries a stack. The server runs as a child process so its logs can be read.
import { assert, assertEquals } from "./testing/assert.ts";
import { eventually } from "./testing/recompute.ts";
import { spawnServer } from "./testing/server_process.ts";
import type { ServerProcess } from "./testing/server_process.ts";
import { connect, readResponse, readUntil, send } from "./testing/raw_http.ts";

interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

async function withLoggingServer(
  run: (server: ServerProcess, logs: LogLine[]) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-body-" });
  const logs: LogLine[] = [];
  const server = await spawnServer(
    ["--port", "0", "--data", `${dir}/store.kv`, "--log-level", "debug"],
    { onStderr: (line) => logs.push(JSON.parse(line)) },
  );
  try {
    await run(server, logs);
  } finally {
    server.child.kill("SIGTERM");
    await server.child.status;
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Sends the head of an ingest request that waits for `100 Continue`: the
 * server sends it only once the handler reads the body, so what follows
 * arrives while the body is being read (not before the handler runs).
 */
async function startUpload(server: ServerProcess, framing: string): Promise<Deno.TcpConn> {
  const conn = await connect(server.url);
  const host = new URL(server.url).host;
  await send(
    conn,
    `POST /api/ingest HTTP/1.1\r\nhost: ${host}\r\ncontent-type: application/json\r\n` +
      `expect: 100-continue\r\n${framing}\r\n`,
  );
  await readUntil(conn, "100 Continue\r\n\r\n");
  return conn;
}

/** Lines logged since the server started listening (its start-up warnings aside). */
function after(logs: LogLine[], from: number): LogLine[] {
  return logs.slice(from);
}

Deno.test("a malformed chunked ingest body gets 400 with the JSON error shape and a warn line without a stack", async () => {
  await withLoggingServer(async (server, logs) => {
    const from = logs.length;
    const conn = await startUpload(server, "transfer-encoding: chunked\r\nconnection: close\r\n");
    // A good first chunk, then a chunk size that is not hexadecimal.
    await send(conn, '2\r\n[{\r\nzz\r\n"sensorId":"a"}]\r\n0\r\n\r\n');
    const response = await readResponse(conn);
    conn.close();
    assertEquals(response.status, 400);
    assert(response.headers.get("content-type")!.startsWith("application/json"));
    const body = JSON.parse(response.body);
    assertEquals(body.error, "bad_request");
    assert(/malformed/i.test(body.detail), body.detail);
    await eventually(
      () => after(logs, from).some((l) => l.level === "warn" && /malformed/.test(l.msg)),
      5_000,
      "a warn line for the malformed body",
    );
    const lines = after(logs, from);
    assertEquals(lines.filter((l) => l.level === "error"), [], "no error-level line");
    assert(!JSON.stringify(lines).includes('"stack"'), JSON.stringify(lines));
    // The server goes on serving.
    const health = await fetch(new URL("/healthz", server.url));
    assertEquals(health.status, 200);
    await health.body?.cancel();
  });
});

Deno.test("an upload the client abandons mid-body logs a debug line, no error line and no stack", async () => {
  await withLoggingServer(async (server, logs) => {
    const from = logs.length;
    const conn = await startUpload(server, "content-length: 10000\r\n");
    await send(conn, '[{"sensorId":"a","timestamp":1,"reading":{"t":');
    conn.close();
    await eventually(
      () => after(logs, from).some((l) => l.level === "debug" && /abandon/.test(l.msg)),
      5_000,
      "a debug line for the abandoned upload",
    );
    const lines = after(logs, from);
    assertEquals(lines.filter((l) => l.level === "error" || l.level === "warn"), []);
    assert(!JSON.stringify(lines).includes('"stack"'), JSON.stringify(lines));
    const health = await (await fetch(new URL("/healthz", server.url))).json();
    assertEquals(health.ingest.accepted, 0);
  });
});
