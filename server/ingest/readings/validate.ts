import type { ReadingLimits } from "./limits.ts";
import { parseIsoDateTime } from "./iso_date_time.ts";
import {
  checkGroup as groupProblem,
  checkSensorId as sensorIdProblem,
  findUnshowable,
} from "../../../protocol/names.ts";

// Each check returns null when the input is fine, else the reason it is refused.

const METRIC_NAME = /^[A-Za-z_][A-Za-z0-9_.:-]*$/;
/** Largest time a JS Date can hold. */
const MAX_TIME_MS = 8.64e15;

export function checkSensorId(id: unknown, limits: ReadingLimits): string | null {
  return sensorIdProblem(id, limits.maxSensorIdLength);
}

export function checkGroup(group: unknown, limits: ReadingLimits): string | null {
  return groupProblem(group, limits.maxGroupLength);
}

export function checkStatus(status: unknown, limits: ReadingLimits): string | null {
  if (status === undefined || status === null || status === "") return null;
  if (typeof status !== "string") return "status must be a string";
  if (status.length > limits.maxStatusLength) {
    return `status longer than ${limits.maxStatusLength} characters`;
  }
  const unshowable = findUnshowable(status);
  return unshowable ? `status has ${unshowable}` : null;
}

export function checkMetricName(name: string, limits: ReadingLimits): string | null {
  if (name.length > limits.maxMetricNameLength) {
    return `metric name longer than ${limits.maxMetricNameLength} characters`;
  }
  if (!METRIC_NAME.test(name)) return `metric name "${name}" is not an identifier`;
  return null;
}

export function checkValue(name: string, value: number): string | null {
  return Number.isFinite(value) ? null : `value of "${name}" is not a finite number`;
}

export function checkTimeMs(timeMs: number): string | null {
  if (!Number.isFinite(timeMs)) return "timestamp is not a finite number";
  if (timeMs < 0) return "timestamp is before 1970";
  if (timeMs > MAX_TIME_MS) return "timestamp is out of range";
  return null;
}

/** Refuses event times further ahead of the server's clock than `limits.maxFutureMs`. */
export function checkNotFuture(
  timeMs: number,
  limits: ReadingLimits,
  nowMs: number,
): string | null {
  if (timeMs - nowMs <= limits.maxFutureMs) return null;
  return `timestamp is ${Math.round((timeMs - nowMs) / 1000)} s in the future (more than ${
    limits.maxFutureMs / 1000
  } s ahead of the server's clock)`;
}

/**
 * Reads a timestamp given as epoch milliseconds (number or digit string) or
 * as an ISO-8601 date-time with a zone on a real calendar day
 * (`parseIsoDateTime`). Returns the time or a reason.
 */
export function parseTimestamp(input: unknown): number | string {
  if (input === undefined || input === null || input === "") return "missing timestamp";
  if (typeof input === "number") return checkTimeMs(input) ?? input;
  if (typeof input !== "string") return "timestamp must be a string or a number";
  if (/^-?\d+(\.\d+)?$/.test(input)) {
    const ms = Number(input);
    return checkTimeMs(ms) ?? ms;
  }
  const ms = parseIsoDateTime(input);
  return typeof ms === "string" ? ms : checkTimeMs(ms) ?? ms;
}
