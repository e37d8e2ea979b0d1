// ISO-8601 date-times with a zone, read by character code and checked against
// the calendar. Date.parse checks the shape only: it rolls 2020-02-30 over to
// March 1 and takes 24:00 as the next midnight.

const SHAPE_REASON =
  "timestamp is not ISO-8601 with a zone (e.g. 2026-01-02T03:04:05Z) or epoch ms";
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];

/**
 * Reads `YYYY-MM-DDTHH:MM[:SS[.fraction]]` followed by `Z` or `±HH[:]MM`
 * and returns ms since the epoch (the fraction cut to whole ms, as Date.parse
 * does), or the reason it is refused. Rules: a real calendar day (leap years
 * included), hour 0-23 (no 24:00: write 00:00 of the next day), minute 0-59,
 * second 0-59 (no leap second 60: a JS time cannot hold it), offset hours
 * 0-23 and minutes 0-59. Allocates nothing unless it refuses.
 */
export function parseIsoDateTime(text: string): number | string {
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  if (
    year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || text.charCodeAt(4) !== DASH ||
    text.charCodeAt(7) !== DASH || text.charCodeAt(10) !== T || text.charCodeAt(13) !== COLON
  ) return SHAPE_REASON;
  let at = 16;
  let second = 0, ms = 0;
  if (text.charCodeAt(at) === COLON) {
    second = digits(text, at + 1, 2);
    if (second < 0) return SHAPE_REASON;
    at += 3;
    if (text.charCodeAt(at) === DOT) {
      const start = ++at;
      while (at < text.length && at - start < 9 && isDigit(text.charCodeAt(at))) {
        if (at - start < 3) ms = ms * 10 + text.charCodeAt(at) - ZERO;
        at++;
      }
      if (at === start) return SHAPE_REASON;
      for (let k = at - start; k < 3; k++) ms *= 10;
    }
  }
  let offsetMinutes = 0;
  const zone = text.charCodeAt(at);
  if (zone === Z && at + 1 === text.length) {
    // UTC
  } else if (zone === PLUS || zone === MINUS) {
    const colon = text.charCodeAt(at + 3) === COLON ? 1 : 0;
    const hours = digits(text, at + 1, 2);
    const minutes = digits(text, at + 3 + colon, 2);
    if (hours < 0 || minutes < 0 || at + 5 + colon !== text.length) return SHAPE_REASON;
    if (hours > 23 || minutes > 59) {
      return `timestamp ${text} has zone offset ${
        text.slice(at)
      } out of range (hours 0-23, minutes 0-59)`;
    }
    offsetMinutes = (zone === PLUS ? 1 : -1) * (hours * 60 + minutes);
  } else {
    return SHAPE_REASON;
  }

  if (month < 1 || month > 12) return `timestamp ${text} is not a calendar date (month ${month})`;
  const monthDays = month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1];
  if (day < 1 || day > monthDays) {
    return `timestamp ${text} is not a calendar date (${
      MONTHS[month - 1]
    } ${year} has ${monthDays} days)`;
  }
  if (hour > 23) {
    return `timestamp ${text} is not a time of day: hour ${hour} is not 0-23${
      hour === 24 ? " (write 00:00 of the next day)" : ""
    }`;
  }
  if (minute > 59) return `timestamp ${text} is not a time of day: minute ${minute} is not 0-59`;
  if (second > 59) {
    return `timestamp ${text} is not a time of day: second ${second} is not 0-59${
      second === 60 ? " (leap seconds are not accepted)" : ""
    }`;
  }
  // Date.UTC reads years 0-99 as 1900-1999; those are before 1970 anyway.
  if (year < 1900) return "timestamp is before 1970";
  return Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMinutes * 60_000;
}

function isLeapYear(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

const ZERO = 0x30, DASH = 0x2d, COLON = 0x3a, DOT = 0x2e, PLUS = 0x2b, MINUS = 0x2d;
const T = 0x54, Z = 0x5a;

function isDigit(code: number): boolean {
  return code >= ZERO && code <= ZERO + 9;
}

/** The number written by `count` ASCII digits at `at`, or -1. */
function digits(text: string, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const code = text.charCodeAt(i); // NaN past the end
    if (!isDigit(code)) return -1;
    value = value * 10 + code - ZERO;
  }
  return value;
}
