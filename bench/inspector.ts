// A benchmark's look inside a server started with `--inspect`: a full GC over
// the Chrome DevTools Protocol, then the process's memory, so retained memory
// can be told from garbage not yet collected.

/** A free TCP port on the loopback for the server's inspector. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

export interface GcMemory {
  /** Bytes, read after a full GC: RSS (from /proc), V8 heap used and total, external. */
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  /** V8's young generation (reserved: sized by allocation rate, not by what is kept). */
  newSpace: number;
  /** V8's old space, reserved and used. */
  oldSpace: number;
  oldSpaceUsed: number;
  /** Resident malloc heap (native: the runtime's Rust side and libraries). */
  malloc: number;
}

/**
 * Asks glibc to hand the free pages inside its heap back (`malloc_trim(0)`,
 * over FFI in the inspected process, which must be allowed FFI), then reads
 * RSS and the malloc heap: what is left is live native memory; what went is
 * memory freed but kept resident (fragmentation). Changes the process: use
 * it last.
 */
export async function memoryAfterTrim(
  inspectorPort: number,
  pid: number,
): Promise<{ rss: number; malloc: number }> {
  await evaluate(
    inspectorPort,
    `(() => {
      const libc = Deno.dlopen("libc.so.6", { malloc_trim: { parameters: ["usize"], result: "i32" } });
      libc.symbols.malloc_trim(0);
      libc.close();
      return "";
    })()`,
  );
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return { rss: Number(status.match(/VmRSS:\s+(\d+)/)![1]) * 1024, malloc: mallocRss(pid) };
}

/** Evaluates an expression in the inspected process; its value as a string. */
async function evaluate(inspectorPort: number, expression: string): Promise<string> {
  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json() as {
    webSocketDebuggerUrl: string;
  }[];
  const socket = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  try {
    const reply = new Promise<string>((resolve) => {
      socket.onmessage = (event) => {
        const message = JSON.parse(event.data) as {
          id?: number;
          result?: { result: { value: string } };
        };
        if (message.id === 1) resolve(JSON.stringify(message));
      };
    });
    socket.send(JSON.stringify({
      id: 1,
      method: "Runtime.evaluate",
      params: { expression, returnByValue: true, awaitPromise: true },
    }));
    return await reply;
  } finally {
    socket.close();
  }
}

/** Collects garbage in the inspected process (twice: weak callbacks free more), then reads its memory. */
export async function memoryAfterGc(inspectorPort: number, pid: number): Promise<GcMemory> {
  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json() as {
    webSocketDebuggerUrl: string;
  }[];
  const socket = new WebSocket(targets[0].webSocketDebuggerUrl);
  const replies = new Map<number, (result: unknown) => void>();
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data) as { id?: number; result?: unknown };
    if (message.id !== undefined) replies.get(message.id)?.(message.result);
  };
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  let id = 0;
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve) => {
      replies.set(++id, resolve);
      socket.send(JSON.stringify({ id, method, params }));
    });
  try {
    await call("HeapProfiler.collectGarbage");
    await call("HeapProfiler.collectGarbage");
    const result = await call("Runtime.evaluate", {
      expression: `(async () => {
        const { getHeapSpaceStatistics } = await import("node:v8");
        const space = (name) => getHeapSpaceStatistics().find((s) => s.space_name === name);
        return JSON.stringify({
          ...Deno.memoryUsage(),
          newSpace: space("new_space").space_size,
          oldSpace: space("old_space").space_size,
          oldSpaceUsed: space("old_space").space_used_size,
        });
      })()`,
      returnByValue: true,
      awaitPromise: true,
    }) as { result: { value: string } };
    const usage = JSON.parse(result.result.value) as Omit<GcMemory, "rss" | "malloc">;
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const rss = Number(status.match(/VmRSS:\s+(\d+)/)![1]) * 1024;
    return { ...usage, rss, malloc: mallocRss(pid) };
  } finally {
    socket.close();
  }
}

/**
 * Resident memory of the process's malloc heap (the `[heap]` of brk plus
 * glibc's 64 MiB arenas), from /proc/<pid>/smaps, in bytes: native memory of
 * the runtime (Rust) and its libraries, as opposed to V8's own pages.
 */
export function mallocRss(pid: number): number {
  let bytes = 0;
  let counting = false;
  for (const line of Deno.readTextFileSync(`/proc/${pid}/smaps`).split("\n")) {
    const range = line.match(/^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/);
    if (range) {
      const size = parseInt(range[2], 16) - parseInt(range[1], 16);
      const name = range[3].trim();
      counting = name === "[heap]" || (name === "" && size >= 60 * 2 ** 20 && size <= 64 * 2 ** 20);
    } else if (counting && line.startsWith("Rss:")) {
      bytes += Number(line.split(/\s+/)[1]) * 1024;
    }
  }
  return bytes;
}
