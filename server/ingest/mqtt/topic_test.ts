import fc from "fast-check";
import { assert, assertEquals } from "../../../tests/testing/assert.ts";
import { DEFAULT_READING_LIMITS as limits, validate } from "../readings/mod.ts";
import { parseTopic, topicFor } from "./topic.ts";

const segment = fc.stringMatching(/^[A-Za-z0-9_.:-]{1,12}$/);
const groupPath = fc.array(segment, { minLength: 0, maxLength: 5 }).map((s) => s.join("/"));
/** Sensor ids as HTTP ingest takes them, minus the characters a topic level cannot hold. */
const sensorId = fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 })
  .filter((id) =>
    !/[/+#]/.test(id) && validate.checkSensorId(id, limits) === null && !id.includes("\0")
  );

Deno.test("pulseboard/<group path>/<sensorId> gives the group and the sensor id, for any valid pair", () => {
  fc.assert(
    fc.property(groupPath, sensorId, (group, id) => {
      const topic = group === "" ? `pulseboard/${id}` : `pulseboard/${group}/${id}`;
      assertEquals(parseTopic(topic, limits), { group, sensorId: id });
      assertEquals(topicFor({ group, sensorId: id }), topic);
    }),
    { numRuns: 2_000 },
  );
});

Deno.test("any topic that parses names exactly itself again, and never a group HTTP ingest would refuse", () => {
  const level = fc.oneof(segment, fc.string({ maxLength: 6 }), fc.constantFrom("", "+", "#", " "));
  const topic = fc.array(level, { minLength: 1, maxLength: 6 }).map((l) => l.join("/"));
  fc.assert(
    fc.property(fc.oneof(topic, topic.map((t) => `pulseboard/${t}`)), (text) => {
      const parsed = parseTopic(text, limits);
      if (typeof parsed === "string") return;
      assertEquals(topicFor(parsed), text);
      assertEquals(validate.checkGroup(parsed.group, limits), null);
      assertEquals(validate.checkSensorId(parsed.sensorId, limits), null);
    }),
    { numRuns: 5_000 },
  );
});

Deno.test("topics outside pulseboard/, with wildcards, empty levels or bad ids are refused with a reason", () => {
  const refused: [string, RegExp][] = [
    ["plant-a/s1", /topic must be pulseboard\//],
    ["pulseboard", /topic must be pulseboard\//],
    ["Pulseboard/s1", /topic must be pulseboard\//],
    ["pulseboard/", /missing sensorId/],
    ["pulseboard/plant-a/", /missing sensorId/],
    ["pulseboard/+/s1", /must not hold \+ or #/],
    ["pulseboard/plant-a/#", /must not hold \+ or #/],
    ["pulseboard//s1", /empty level/],
    ["pulseboard/plant-a//s1", /not a path of segments/],
    ["pulseboard/plant a/s1", /not a path of segments/],
    ["pulseboard/plant-a/ s1", /surrounding spaces/],
    ["pulseboard/plant-a/s\u202e1", /U\+202E/],
    [`pulseboard/${"g".repeat(129)}/s1`, /group longer than 128/],
    [`pulseboard/${"s".repeat(129)}`, /sensorId longer than 128/],
  ];
  for (const [topic, reason] of refused) {
    const parsed = parseTopic(topic, limits);
    assert(typeof parsed === "string", `${topic} was taken as ${JSON.stringify(parsed)}`);
    assert(reason.test(parsed), `${topic}: ${parsed}`);
  }
  assertEquals(parseTopic("pulseboard/plant-z/line-9/s1", limits), {
    group: "plant-z/line-9",
    sensorId: "s1",
  });
  assertEquals(parseTopic("pulseboard/s1", limits), { group: "", sensorId: "s1" });
});
