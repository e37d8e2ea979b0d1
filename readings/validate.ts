import type { ReadingLimits } from "./limits.ts";
import { parseIsoDateTime } from "./iso_date_time.ts";

// Each check returns null when the input is fine, else the reason it is refused.

// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const GROUP_SEGMENT = /^[A-Za-z0-9_.:-]+$/;
const METRIC_NAME = /^[A-Za-z_][A-Za-z0-9_.:-]*$/;
/** Largest time a JS Date can hold. */
const MAX_TIME_MS = 8.64e15;

export function checkSensorId(id: unknown, limits: ReadingLimits): string | null {
  if (id === undefined || id === null || id === "") return "missing sensorId";
  if (typeof id !== "string") return "sensorId must be a string";
  if (id.length > limits.maxSensorIdLength) {
    return `sensorId longer than ${limits.maxSensorIdLength} characters`;
  }
  if (CONTROL.test(id) || id.trim() !== id) {
    return "sensorId has control characters or surrounding spaces";
  }
  return null;
}

/** A group is a path of segments like `plant-a/line-3`; empty means default. */
export function checkGroup(group: unknown, limits: ReadingLimits): string | null {
  if (group === undefined || group === null || group === "") return null;
  if (typeof group !== "string") return "group must be a string";
  if (group.length > limits.maxGroupLength) {
    return `group longer than ${limits.maxGroupLength} characters`;
  }
  for (const segment of group.split("/")) {
    if (!GROUP_SEGMENT.test(segment)) {
      return `group "${group}" is not a path of segments of letters, digits, _ . : -`;
    }
  }
  return null;
}

export function checkStatus(status: unknown, limits: ReadingLimits): string | null {
  if (status === undefined || status === null || status === "") return null;
  if (typeof status !== "string") return "status must be a string";
  if (status.length > limits.maxStatusLength || CONTROL.test(status)) {
    return `status longer than ${limits.maxStatusLength} characters or with control characters`;
  }
  return null;
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
