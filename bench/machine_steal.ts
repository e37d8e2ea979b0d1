// What the machine itself takes from a timed section: on a virtual machine
// the host runs other guests on our cores ("steal"), so a tick's wall time
// can be far over its CPU time with nothing else of ours running. Read from
// /proc/stat (Linux; elsewhere null) and from CPU-bound bursts timed here.
import { threadCpuClock } from "../server/ops/thread_clock.ts";

/** The machine's CPU time by kind since boot, in clock ticks (the first line of /proc/stat). */
export interface CpuTimes {
  busy: number;
  idle: number;
  steal: number;
}

export function cpuTimes(): CpuTimes | null {
  try {
    const line = Deno.readTextFileSync("/proc/stat").split("\n")[0];
    // user nice system idle iowait irq softirq steal …
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    if (f.length < 8 || f.some((x) => !Number.isFinite(x))) return null;
    return { busy: f[0] + f[1] + f[2] + f[5] + f[6], idle: f[3] + f[4], steal: f[7] };
  } catch {
    return null;
  }
}

/** Steal as a percentage of all CPU time between two readings (null when unknown). */
export function stealPercent(before: CpuTimes | null, after: CpuTimes | null): number | null {
  if (!before || !after) return null;
  const steal = after.steal - before.steal;
  const all = steal + (after.busy - before.busy) + (after.idle - before.idle);
  return all > 0 ? (100 * steal) / all : null;
}

/**
 * Wall time of `bursts` CPU-bound sections of `cpuMs` of this thread's CPU
 * each, `gapMs` apart (sorted, ms). On a machine of its own each takes about
 * `cpuMs`; what is over it is time the thread had no core. Null where the
 * thread's CPU clock cannot be read.
 */
export async function burstWalls(
  options: { bursts?: number; cpuMs?: number; gapMs?: number } = {},
): Promise<number[] | null> {
  const { bursts = 50, cpuMs = 10, gapMs = 90 } = options;
  const cpu = threadCpuClock();
  if (typeof cpu !== "function") return null;
  const walls: number[] = [];
  for (let i = 0; i < bursts; i++) {
    const wall = performance.now(), started = cpu();
    while (cpu() - started < cpuMs) { /* busy: each read of the clock is a call into libc */ }
    walls.push(performance.now() - wall);
    await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  return walls.sort((a, b) => a - b);
}
