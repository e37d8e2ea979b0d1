// What a sensor id and a group path may be: the names frames and subscriptions
// carry. Each check returns null when the input is fine, else the reason.

/** Default longest sensor id and group path, in characters. */
export const MAX_SENSOR_ID_LENGTH = 128;
export const MAX_GROUP_LENGTH = 128;

/**
 * Code points no id or status may hold: controls (Cc, C0 and C1), format
 * characters (Cf: bidi controls, zero-width characters, soft hyphen, BOM,
 * tags), line and paragraph separators, lone surrogates (Cs: UTF-8 cannot
 * store them, so the id would change at restart) and noncharacters. They are
 * invisible or rearrange the text around them, so two ids could look alike.
 */
const UNSHOWABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Noncharacter_Code_Point}]/u;
const GROUP_SEGMENT = /^[A-Za-z0-9_.:-]+$/;

export function checkSensorId(id: unknown, maxLength = MAX_SENSOR_ID_LENGTH): string | null {
  if (id === undefined || id === null || id === "") return "missing sensorId";
  if (typeof id !== "string") return "sensorId must be a string";
  if (id.length > maxLength) {
    return `sensorId longer than ${maxLength} characters`;
  }
  const unshowable = findUnshowable(id);
  if (unshowable) return `sensorId has ${unshowable}`;
  if (id.trim() !== id) return "sensorId has surrounding spaces";
  // A URL path cannot name them: /api/sensors/../history is /api/history, even as %2E%2E.
  if (id === "." || id === "..") return `sensorId "${id}" cannot be named in a URL path`;
  return null;
}

/** Anything but printable ASCII; the usual id has none, and this test is cheaper. */
const BEYOND_PRINTABLE_ASCII = /[^\x20-\x7e]/;

/** Describes the first code point `UNSHOWABLE` matches in `text`, or null. */
export function findUnshowable(text: string): string | null {
  if (!BEYOND_PRINTABLE_ASCII.test(text) || !UNSHOWABLE.test(text)) return null;
  const code = UNSHOWABLE.exec(text)![0].codePointAt(0)!;
  const name = `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
  return code >= 0xd800 && code <= 0xdfff
    ? `a lone surrogate ${name} (not well-formed UTF-16, cannot be stored as UTF-8)`
    : `an invisible or control character ${name}`;
}

/** A group is a path of segments like `plant-a/line-3`; empty means default. */
export function checkGroup(group: unknown, maxLength = MAX_GROUP_LENGTH): string | null {
  if (group === undefined || group === null || group === "") return null;
  if (typeof group !== "string") return "group must be a string";
  if (group.length > maxLength) {
    return `group longer than ${maxLength} characters`;
  }
  for (const segment of group.split("/")) {
    if (!GROUP_SEGMENT.test(segment)) {
      return `group "${group}" is not a path of segments of letters, digits, _ . : -`;
    }
  }
  return null;
}
