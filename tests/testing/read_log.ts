// Every reading the Deno KV log holds, in log order, read through a second
// handle on the store's file: what is durable, whatever a server says.
import { KvLog } from "../../server/store/mod.ts";
import type { PlainReading } from "./recompute.ts";

export async function readLog(path: string): Promise<PlainReading[]> {
  const kv = await Deno.openKv(path);
  const stored: PlainReading[] = [];
  try {
    const log = new KvLog(kv);
    let cursor: string | null = null;
    while (true) {
      const entries = await log.read(cursor, 64);
      if (entries.length === 0) return stored;
      for (const { block } of entries) {
        for (let i = 0; i < block.length; i++) {
          const values: Record<string, number> = {};
          for (let v = block.metricStart[i]; v < block.metricStart[i + 1]; v++) {
            values[block.strings[block.metric[v]]] = block.value[v];
          }
          stored.push({
            sensorId: block.strings[block.sensor[i]],
            group: block.strings[block.group[i]],
            timeMs: block.timeMs[i],
            values,
            status: block.strings[block.status[i]],
            ...(block.acceptedMs === undefined ? {} : { acceptedMs: block.acceptedMs }),
          });
        }
      }
      cursor = entries[entries.length - 1].cursor;
    }
  } finally {
    kv.close();
  }
}

/** "sensorId@timeMs" → how many times the log holds it. */
export function occurrences(readings: readonly PlainReading[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of readings) {
    const key = `${r.sensorId}@${r.timeMs}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}
