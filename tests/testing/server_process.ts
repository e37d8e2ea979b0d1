// Starts `main.ts` as a child process (for tests and the benchmark) and
// waits for its "listening on" line.

export interface ServerProcess {
  child: Deno.ChildProcess;
  /** Base URL with a trailing slash, e.g. http://127.0.0.1:41533/ */
  url: string;
}

/**
 * `env` is added to the child's environment (never set in the test process:
 * tests run in parallel). With `onStderr` each line the server writes to
 * stderr (its JSON logs) goes there instead of the test's stderr.
 */
export async function spawnServer(
  args: string[],
  options: { env?: Record<string, string>; onStderr?: (line: string) => void } = {},
): Promise<ServerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", ...args],
    cwd: new URL("../..", import.meta.url).pathname,
    env: options.env,
    stdout: "piped",
    stderr: options.onStderr ? "piped" : "inherit",
  }).spawn();
  // The last lines of stderr, to say why a server exited before listening.
  const lastErr: string[] = [];
  if (options.onStderr) {
    const onStderr = options.onStderr;
    drainLines(child.stderr, (line) => {
      if (lastErr.push(line) > 10) lastErr.shift();
      onStderr(line);
    });
  }
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/listening on (\S+)/.test(text)) {
    const { done, value } = await reader.read();
    if (done) {
      const status = await child.status;
      throw new Error(
        `server exited (code ${status.code}, signal ${status.signal}) before listening: ${text}${
          lastErr.length ? `\nstderr: ${lastErr.join("\n")}` : ""
        }`,
      );
    }
    text += value;
  }
  // Keep draining stdout so the child never blocks on a full pipe.
  (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  return { child, url: text.match(/listening on (\S+)/)![1] };
}

function drainLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): void {
  (async () => {
    let rest = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + text).split("\n");
      rest = lines.pop()!;
      lines.forEach(onLine);
    }
    if (rest) onLine(rest);
  })().catch(() => {});
}

/**
 * Stops a server started by `spawnServer` and waits for it to exit. A server
 * that has already exited (a test killed it and failed before starting the
 * next) is not an error: cleanup must never hide the test's own failure.
 */
export async function stopServer(
  server: ServerProcess,
  signal: Deno.Signal = "SIGTERM",
): Promise<Deno.CommandStatus> {
  try {
    server.child.kill(signal);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
  }
  return await server.child.status;
}
