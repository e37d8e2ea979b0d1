// The read API's sensors (GET /api/sensors), as tests compare them with a recomputation.
import { assertEquals } from "./assert.ts";
import type { MetricState } from "./feed_client.ts";

export interface ApiSensor {
  id: string;
  status: string | null;
  metrics: Record<string, { value: number; timeMs: number; avg: number; min: number; max: number }>;
}

/** Every sensor the server lists (at most 1,000: one page). */
export async function apiSensors(url: URL | string): Promise<ApiSensor[]> {
  const response = await fetch(new URL("/api/sensors?limit=1000", url));
  assertEquals(response.status, 200);
  const body = await response.json();
  assertEquals(body.nextCursor, null);
  return body.sensors;
}

/** The API's values as "sensorId/metric" → state, for `sameState`. */
export function apiState(sensors: ApiSensor[]): Record<string, MetricState> {
  const out: Record<string, MetricState> = {};
  for (const s of sensors) {
    for (const [metric, m] of Object.entries(s.metrics)) {
      out[`${s.id}/${metric}`] = {
        last: m.value,
        avg: m.avg,
        min: m.min,
        max: m.max,
        timeMs: m.timeMs,
      };
    }
  }
  return out;
}
