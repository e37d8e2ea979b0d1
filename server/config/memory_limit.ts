// How much memory this process may use: a container's limit is often far
// below the machine's (a 2 GiB pod on a 64 GiB node), and defaults sized
// from the machine's would let clients hold more than the pod has.

/** cgroup v2's and v1's files that hold this process's memory limit. */
export const CGROUP_LIMIT_FILES = [
  "/sys/fs/cgroup/memory.max",
  "/sys/fs/cgroup/memory/memory.limit_in_bytes",
] as const;

/** Past this, a cgroup v1 "limit" means none (the kernel's page-rounded 2^63 - 1). */
const NO_LIMIT = 2 ** 60;

/** A cgroup limit file's bytes, or null for none ("max", empty, not a number, or v1's huge value). */
export function parseCgroupLimit(text: string): number | null {
  const trimmed = text.trim();
  if (!/^\d{1,20}$/.test(trimmed)) return null;
  const bytes = Number(trimmed);
  return bytes > 0 && bytes < NO_LIMIT ? bytes : null;
}

/**
 * The machine's memory, or the lowest cgroup limit readable among
 * `CGROUP_LIMIT_FILES` if lower. A file that cannot be read (not Linux, not
 * mounted, no permission) counts as no limit.
 */
export function memoryLimitBytes(
  machineBytes: number = Deno.systemMemoryInfo().total,
  read: (path: string) => string | null = readOrNull,
): number {
  let limit = machineBytes;
  for (const path of CGROUP_LIMIT_FILES) {
    const text = read(path);
    const bytes = text === null ? null : parseCgroupLimit(text);
    if (bytes !== null && bytes < limit) limit = bytes;
  }
  return limit;
}

function readOrNull(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}
