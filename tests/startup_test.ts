// A server that cannot start says why in one sentence naming the option to
// change, and exits 1: no stack trace, no half-started server.
import { assert, assertEquals } from "./testing/assert.ts";
import { spawnServer, stopServer } from "./testing/server_process.ts";

async function startOn(args: string[]): Promise<{ code: number; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", "--data", ":memory:", ...args],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
}

/** Starting with `args` exits 1 with `sentence` as stderr's last line, and no stack trace. */
async function assertRefused(args: string[], sentence: string): Promise<string> {
  const { code, stderr } = await startOn(args);
  assertEquals(code, 1, stderr);
  assertEquals(stderr.trim().split("\n").at(-1), sentence);
  assert(!/^\s+at /m.test(stderr), `no stack trace:\n${stderr}`);
  return stderr;
}

Deno.test("a port in use (HTTP or MQTT) stops the start with a sentence naming its option, exit 1", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  try {
    for (
      const [args, flag] of [
        [["--port", String(port)], "--port"],
        [["--port", "0", "--mqtt-port", String(port)], "--mqtt-port"],
      ] as const
    ) {
      const stderr = await assertRefused(
        [...args],
        `Cannot listen on 127.0.0.1:${port} (${flag}): the port is in use by another program. ` +
          `Stop it, or choose another port with ${flag} (0 picks a free one).`,
      );
      assert(!stderr.includes("EADDRINUSE"), `said in words:\n${stderr}`);
    }
  } finally {
    taken.close();
  }
});

Deno.test("a file an option names that cannot be used stops the start with a sentence naming the option, exit 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-startup-" });
  try {
    await Deno.writeTextFile(`${dir}/not-kv`, "this is not a database, it is text\n".repeat(200));
    await Deno.writeTextFile(`${dir}/file`, "");
    for (
      const [args, sentence] of [
        [["--data", dir], `Cannot use ${dir} (--data): it is a directory, not a file.`],
        [["--data", `${dir}/not-kv`], `Cannot use ${dir}/not-kv (--data): file is not a database.`],
        [
          ["--data", `${dir}/file/store.kv`],
          `Cannot use ${dir}/file/store.kv (--data): a part of its path is a file, not a directory.`,
        ],
        [
          ["--cert", `${dir}/cert.pem`, "--key", `${dir}/key.pem`],
          `Cannot use ${dir}/cert.pem (--cert): there is no such file.`,
        ],
      ] as const
    ) {
      await assertRefused(["--port", "0", ...args], sentence);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a second server on a data file in use is refused, naming --data; the file is free again once the first stops, even killed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-startup-" });
  const data = `${dir}/store.kv`;
  try {
    for (const signal of ["SIGTERM", "SIGKILL"] as const) {
      const first = await spawnServer(["--port", "0", "--data", data], { onStderr: () => {} });
      await assertRefused(
        ["--port", "0", "--data", data],
        `Cannot use ${data} (--data): another Pulseboard process is using it; ` +
          "stop that one, or give this one another --data.",
      );
      await stopServer(first, signal);
    }
    // Free again after a kill -9: the lock went with the process.
    const again = await spawnServer(["--port", "0", "--data", data], { onStderr: () => {} });
    await stopServer(again);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
