// CPU by thread of a process, from /proc/<pid>/task/*/stat: what the main
// thread, the shard workers, Deno KV's writer and V8's helpers each used.

/** CPU seconds per thread name (threads of one name summed). */
export function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const entry of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/task/${entry.name}/stat`);
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const seconds = (Number(fields[11]) + Number(fields[12])) / 100;
      const key = entry.name === String(pid) ? "main" : threadKind(name);
      out.set(key, (out.get(key) ?? 0) + seconds);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** Groups thread names: shard workers, KV writer, V8 helpers, the rest. */
function threadKind(name: string): string {
  if (/^worker-\d+$/.test(name)) return "workers";
  if (name === "sw-0" || /^sw-/.test(name)) return "kv";
  if (/^V8 Defaul/.test(name)) return "v8 helpers";
  return "other";
}

/** Per thread kind: % of a core used between two samples `seconds` apart. */
export function threadPercent(
  before: Map<string, number>,
  after: Map<string, number>,
  seconds: number,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of after) {
    // A thread that ended since `before` takes its time with it: never below 0.
    out[key] = Math.max(0, ((value - (before.get(key) ?? 0)) / seconds) * 100);
  }
  return out;
}
