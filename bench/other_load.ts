// How busy the rest of the machine was while ticks were sampled: the CPU
// time all processes used (/proc/stat) less what the bench's own processes
// (server, simulator, clients) used. On these shared 2-core machines a
// tick's run-queue wait comes mostly from there, so a run's tail can be
// told apart from the code's.
import { cpuSeconds } from "./processes.ts";
import { cpuTimes } from "./machine_steal.ts";
import type { CpuTimes } from "./machine_steal.ts";

/** The machine's CPU times and our processes' CPU seconds at one moment (null: unknown). */
export interface LoadReading {
  machine: CpuTimes;
  ownSeconds: number;
}

export function readLoad(pids: readonly number[]): LoadReading | null {
  const machine = cpuTimes();
  if (!machine) return null;
  try {
    let ownSeconds = 0;
    for (const pid of pids) ownSeconds += cpuSeconds(pid);
    return { machine, ownSeconds };
  } catch {
    return null;
  }
}

/**
 * CPU time used by processes other than ours between two readings, as a
 * percentage of the machine's whole CPU time then (all cores; clock ticks of
 * 10 ms, as /proc counts them); null when unknown or no time passed.
 */
export function otherLoadPercent(
  before: LoadReading | null,
  after: LoadReading | null,
): number | null {
  if (!before || !after) return null;
  const busy = after.machine.busy - before.machine.busy;
  const all = busy + (after.machine.idle - before.machine.idle) +
    (after.machine.steal - before.machine.steal);
  if (!(all > 0)) return null;
  const own = Math.round((after.ownSeconds - before.ownSeconds) * 100);
  return (100 * Math.max(0, busy - own)) / all;
}
