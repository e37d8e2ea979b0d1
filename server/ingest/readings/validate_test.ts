import fc from "fast-check";
import { assert, assertEquals } from "../../../tests/testing/assert.ts";
import { DEFAULT_READING_LIMITS as limits } from "./limits.ts";
import { checkSensorId, checkStatus } from "./validate.ts";
import { refusalKind } from "./refusal_kind.ts";

/** Any code point but a surrogate (fast-check's "binary" unit is far slower). */
const anyCodePoint = fc.integer({ min: 0, max: 0x10ffff })
  .filter((c) => c < 0xd800 || c > 0xdfff)
  .map((c) => String.fromCodePoint(c));

// Code points an id must not hold: they are invisible, reorder or break the
// text around them, or cannot be stored as UTF-8.
const forbidden: [string, string][] = [
  ["\u0000", "U+0000"],
  ["\u001b", "U+001B"],
  ["\u007f", "U+007F"],
  ["\u0085", "U+0085"],
  ["\u009b", "U+009B"],
  ["\u00ad", "U+00AD"],
  ["\u061c", "U+061C"],
  ["\u200b", "U+200B"],
  ["\u200c", "U+200C"],
  ["\u200d", "U+200D"],
  ["\u200e", "U+200E"],
  ["\u200f", "U+200F"],
  ["\u202a", "U+202A"],
  ["\u202e", "U+202E"],
  ["\u2028", "U+2028"],
  ["\u2029", "U+2029"],
  ["\u2060", "U+2060"],
  ["\u2066", "U+2066"],
  ["\u2069", "U+2069"],
  ["\ufeff", "U+FEFF"],
  ["\ufdd0", "U+FDD0"],
  ["\ufffe", "U+FFFE"],
  ["\uffff", "U+FFFF"],
  ["\u{1fffe}", "U+1FFFE"],
  ["\u{e0001}", "U+E0001"],
  ["\ud800", "U+D800"],
  ["\udfff", "U+DFFF"],
];

Deno.test("sensor ids and statuses holding a control, invisible, bidi, separator, noncharacter or lone surrogate are refused naming it", () => {
  const accepted = forbidden.filter(([char]) =>
    checkSensorId(`a${char}b`, limits) === null || checkStatus(`a${char}b`, limits) === null
  );
  assertEquals(accepted.map(([, name]) => name), [], "accepted");
  for (const [char, name] of forbidden) {
    const text = `a${char}b`;
    const id = checkSensorId(text, limits);
    assert(id !== null && id.includes(name), `sensorId with ${name}: ${id}`);
    assertEquals(refusalKind(id), "sensor_id");
    const status = checkStatus(text, limits);
    assert(status !== null && status.includes(name), `status with ${name}: ${status}`);
    assertEquals(refusalKind(status), "status");
  }
  // A reversed pair is two lone surrogates.
  assert(checkSensorId("a\udc00\ud800b", limits)?.includes("U+DC00"));
});

Deno.test("ids in any script, with accents, combining marks, emoji and inner spaces are accepted", () => {
  for (
    const id of [
      "température-é-😀",
      "датчик-1",
      "温度センサー",
      "e\u0301",
      "❤\ufe0f",
      "sensor 1",
      "\ue000-private",
      "\u{f0000}",
    ]
  ) {
    assertEquals(checkSensorId(id, limits), null, JSON.stringify(id));
    assertEquals(checkStatus(id.slice(0, 32), limits), null, JSON.stringify(id));
  }
});

Deno.test("any text with a forbidden code point anywhere is refused as a sensor id", () => {
  const insert = (text: string, char: string, at: number) => {
    const cut = text.length === 0 ? 0 : at % text.length;
    return `${text.slice(0, cut)}${char}${text.slice(cut)}`;
  };
  // Printable ASCII around it: the reason names the very code point.
  fc.assert(
    fc.property(
      fc.string({ unit: "grapheme-ascii", maxLength: 40 }),
      fc.constantFrom(...forbidden),
      fc.nat(),
      (text, [char, name], at) => {
        const reason = checkSensorId(insert(text, char, at), limits);
        assert(reason !== null && reason.includes(name), `${reason} names ${name}`);
        assertEquals(refusalKind(reason), "sensor_id");
      },
    ),
    { numRuns: 1000 },
  );
  // Any code points around it (even where the cut splits a pair): still refused.
  fc.assert(
    fc.property(
      fc.string({ unit: anyCodePoint, maxLength: 40 }),
      fc.constantFrom(...forbidden),
      fc.nat(),
      (text, [char], at) => {
        const reason = checkSensorId(insert(text, char, at), limits);
        assert(reason !== null, JSON.stringify(insert(text, char, at)));
        assertEquals(refusalKind(reason), "sensor_id");
      },
    ),
    { numRuns: 1000 },
  );
});
