// Defensive readers for JSON from the server: the server is outside this
// module, so every field is checked before use. Each reader throws a
// TypeError naming the path of the first field that does not fit.

/** A field path for messages, e.g. `points[3].t`. */
export type Path = string;

export function record(value: unknown, path: Path): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`${path} is not an object`);
  }
  return value as Record<string, unknown>;
}

export function array(value: unknown, path: Path): unknown[] {
  if (!Array.isArray(value)) throw new TypeError(`${path} is not an array`);
  return value;
}

export function finite(value: unknown, path: Path): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new TypeError(`${path} is not a finite number`);
  }
  return value;
}

/** A finite number, or null when the server sends null (e.g. an empty window's min). */
export function finiteOrNull(value: unknown, path: Path): number | null {
  return value === null ? null : finite(value, path);
}

export function count(value: unknown, path: Path): number {
  const n = finite(value, path);
  if (!Number.isInteger(n) || n < 0) throw new TypeError(`${path} is not a count`);
  return n;
}

export function string(value: unknown, path: Path): string {
  if (typeof value !== "string") throw new TypeError(`${path} is not a string`);
  return value;
}

export function stringOrNull(value: unknown, path: Path): string | null {
  return value === null || value === undefined ? null : string(value, path);
}

export function boolean(value: unknown, path: Path): boolean {
  if (typeof value !== "boolean") throw new TypeError(`${path} is not a boolean`);
  return value;
}

export function oneOf<T extends string>(value: unknown, allowed: readonly T[], path: Path): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw new TypeError(`${path} is not one of ${allowed.join(", ")}`);
  }
  return value as T;
}
