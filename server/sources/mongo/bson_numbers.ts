// BSON's numeric types as the JSON ingest rules take numbers.

/** The BSON number wrappers a driver may hand over instead of a JS number. */
const WRAPPED = new Set(["Decimal128", "Long", "Int32", "Double"]);

/**
 * `value` as a JS number when it is a BSON Decimal128, Long, Int32 or Double
 * (the driver promotes only the last three, and a Long only within 2^53):
 * the number its decimal text parses to, as JSON ingest would parse that
 * text (so "NaN" and "Infinity" stay not finite, and are refused as such).
 * Anything else is returned as it is. Told by `_bsontype`, not `instanceof`:
 * the driver's copy of bson is not necessarily this module's.
 */
export function plainNumber(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  const type = (value as { _bsontype?: unknown })._bsontype;
  return typeof type === "string" && WRAPPED.has(type) ? Number(String(value)) : value;
}

/**
 * A document with its `timestamp` and `reading` values as plain numbers
 * where they were BSON numbers (`plainNumber`): a writer's NumberDecimal or
 * large NumberLong metric was otherwise not a number to the JSON rules, and
 * silently left out of a reading that had other metrics. The document
 * itself when nothing needed it.
 */
export function withPlainNumbers(doc: Record<string, unknown>): Record<string, unknown> {
  let out = doc;
  const timestamp = plainNumber(doc.timestamp);
  if (timestamp !== doc.timestamp) out = { ...out, timestamp };
  const reading = doc.reading;
  if (typeof reading === "object" && reading !== null && !Array.isArray(reading)) {
    let plain: Record<string, unknown> | null = null;
    for (const [name, value] of Object.entries(reading)) {
      const number = plainNumber(value);
      if (number === value) continue;
      // Defined as own properties: a metric named __proto__ stays a metric.
      plain ??= Object.defineProperties({}, Object.getOwnPropertyDescriptors(reading));
      Object.defineProperty(plain, name, { value: number, enumerable: true, writable: true });
    }
    if (plain !== null) out = { ...out, reading: plain };
  }
  return out;
}
