import { ReadingBlockBuilder } from "../../../protocol/reading_block.ts";
import type { ReadingBlock } from "../../../protocol/reading_block.ts";
import type { ReadingLimits } from "./limits.ts";
import {
  checkGroup,
  checkMetricName,
  checkNotFuture,
  checkSensorId,
  checkStatus,
  checkValue,
  parseTimestamp,
} from "./validate.ts";

/** A reading refused at ingest: its position in the batch and why. */
export interface Refusal {
  index: number;
  reason: string;
}

export interface ParsedReadings {
  block: ReadingBlock;
  refused: Refusal[];
}

/**
 * Validates JSON documents one by one, in the shape IoT simulators insert:
 * `{ sensorId, timestamp, reading: { <metric>: number, ... }, status?, group? }`.
 * Every numeric field under `reading` is a metric; other fields there are
 * ignored. Bad documents are refused with their index; good ones are kept.
 */
export function parseJsonReadings(
  documents: readonly unknown[],
  limits: ReadingLimits,
  nowMs: number = Date.now(),
): ParsedReadings {
  const builder = new ReadingBlockBuilder({ capacity: documents.length });
  const refused: Refusal[] = [];
  for (let index = 0; index < documents.length; index++) {
    const reason = addDocument(builder, documents[index], limits, nowMs);
    if (reason !== null) refused.push({ index, reason });
  }
  return { block: builder.build(), refused };
}

/**
 * Validates one document and, when good, appends it to `builder`; returns
 * null, or the reason it is refused. Shared by JSON ingest and the Mongo
 * source (whose documents have the same shape). `admit`, when given, has the
 * last word on a valid document (the fleet's caps: `FleetLimit.admit`).
 */
export function addDocument(
  builder: ReadingBlockBuilder,
  doc: unknown,
  limits: ReadingLimits,
  nowMs: number,
  admit?: (sensorId: string, metrics: readonly string[]) => string | null,
): string | null {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    return "reading must be a JSON object";
  }
  const { sensorId, timestamp, reading, status, group } = doc as Record<string, unknown>;
  const problem = checkSensorId(sensorId, limits) ?? checkGroup(group, limits) ??
    checkStatus(status, limits);
  if (problem) return problem;
  const timeMs = parseTimestamp(timestamp);
  if (typeof timeMs === "string") return timeMs;
  const future = checkNotFuture(timeMs, limits, nowMs);
  if (future) return future;
  if (typeof reading !== "object" || reading === null || Array.isArray(reading)) {
    return "reading must be an object of metric values";
  }
  let metrics = 0;
  for (const key in reading) {
    const value = (reading as Record<string, unknown>)[key];
    if (typeof value !== "number") continue;
    const bad = checkMetricName(key, limits) ?? checkValue(key, value);
    if (bad) return bad;
    metrics++;
  }
  if (metrics === 0) return "reading has no numeric metrics";
  if (metrics > limits.maxMetrics) return `too many metrics (${metrics} > ${limits.maxMetrics})`;
  if (admit) {
    const names = Object.keys(reading).filter((key) =>
      typeof (reading as Record<string, unknown>)[key] === "number"
    );
    const refusal = admit(sensorId as string, names);
    if (refusal !== null) return refusal;
  }
  builder.begin(
    sensorId as string,
    (group as string | undefined) ?? "",
    timeMs,
    (status as string | undefined) ?? "",
  );
  for (const key in reading) {
    const value = (reading as Record<string, unknown>)[key];
    if (typeof value === "number") builder.addValue(key, value);
  }
  return null;
}
