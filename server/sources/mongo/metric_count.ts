import { plainNumber } from "./bson_numbers.ts";

/**
 * True when `reading` holds more than `max` numeric metrics (BSON numbers
 * counted as numbers), found by reading at most `max + 1` of them: a
 * document may hold up to 16 MB of keys, and the JSON rules count (and
 * check the name and value of) every one before refusing "too many metrics".
 */
export function overMetricLimit(reading: unknown, max: number): boolean {
  if (typeof reading !== "object" || reading === null || Array.isArray(reading)) return false;
  let metrics = 0;
  for (const key in reading) {
    if (typeof plainNumber((reading as Record<string, unknown>)[key]) !== "number") continue;
    if (++metrics > max) return true;
  }
  return false;
}
