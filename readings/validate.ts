import type { ReadingLimits } from "./limits.ts";
import { parseIsoDateTime } from "./iso_date_time.ts";

// Each check returns null when the input is fine, else the reason it is refused.

/**
 * Code points no id or status may hold: controls (Cc, C0 and C1), format
 * characters (Cf: bidi controls, zero-width characters, soft hyphen, BOM,
 * tags), line and paragraph separators, lone surrogates (Cs: UTF-8 cannot
 * store them, so the id would change at restart) and noncharacters. They are
 * invisible or rearrange the text around them, so two ids could look alike.
 */
const UNSHOWABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Noncharacter_Code_Point}]/u;
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
  const unshowable = findUnshowable(id);
  if (unshowable) return `sensorId has ${unshowable}`;
  if (id.trim() !== id) return "sensorId has surrounding spaces";
  return null;
}

/** Anything but printable ASCII; the usual id has none, and this test is cheaper. */
const BEYOND_PRINTABLE_ASCII = /[^\x20-\x7e]/;

/** Describes the first code point `UNSHOWABLE` matches in `text`, or null. */
function findUnshowable(text: string): string | null {
  if (!BEYOND_PRINTABLE_ASCII.test(text) || !UNSHOWABLE.test(text)) return null;
  const code = UNSHOWABLE.exec(text)![0].codePointAt(0)!;
  const name = `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
  return code >= 0xd800 && code <= 0xdfff
    ? `a lone surrogate ${name} (not well-formed UTF-16, cannot be stored as UTF-8)`
    : `an invisible or control character ${name}`;
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
