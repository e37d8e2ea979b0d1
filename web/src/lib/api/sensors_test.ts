import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { parseSensorPage, sensorsPath } from "./sensors.ts";
import { withBrowserProto } from "../testing/browser_proto.ts";

const sensor = {
  id: "sensor_1",
  group: "plant-a/line-1",
  status: "ok",
  attention: "critical",
  lastSeenMs: 1000,
  lateDropped: 0,
  metrics: { temperature: { value: 21.5, timeMs: 990, avg: 21 } },
};

Deno.test("sensor page parses sensors and the cursor", () => {
  assertEquals(parseSensorPage({ sensors: [sensor], nextCursor: "abc" }), {
    sensors: [sensor],
    nextCursor: "abc",
  });
  assertEquals(parseSensorPage({ sensors: [], nextCursor: null }).nextCursor, null);
});

Deno.test("sensor page with a wrong shape is refused naming the field", () => {
  throws(() => parseSensorPage({ sensors: {} }), /sensors is not an array/);
  throws(
    () => parseSensorPage({ sensors: [{ ...sensor, metrics: { t: { value: "1" } } }] }),
    /sensors\[0\]\.metrics\.t\.value/,
  );
  throws(() => parseSensorPage({ sensors: [{ ...sensor, lateDropped: 1.5 }] }), /lateDropped/);
  throws(() => parseSensorPage({ sensors: [], nextCursor: 7 }), /nextCursor/);
});

Deno.test("sensors path leaves out empty parameters", () => {
  assertEquals(sensorsPath(), "/api/sensors");
  assertEquals(
    sensorsPath({ group: "plant-a", q: "_1", limit: 50 }),
    "/api/sensors?group=plant-a&q=_1&limit=50",
  );
});

Deno.test("a sensor without any status reported parses with status null", () => {
  const page = parseSensorPage({
    sensors: [{ id: "s", group: "g", status: null, lastSeenMs: 1, lateDropped: 0, metrics: {} }],
    nextCursor: null,
  });
  assertEquals(page.sensors[0].status, null);
});

Deno.test("a metric named __proto__ or constructor is kept as the sensor's own metric", () => {
  const body = JSON.parse(
    '{"sensors":[{"id":"s","group":"g","status":null,"attention":"ok","lastSeenMs":1,' +
      '"lateDropped":0,"metrics":{"__proto__":{"value":1,"timeMs":1,"avg":1},' +
      '"constructor":{"value":2,"timeMs":1,"avg":2}}}],"nextCursor":null}',
  );
  const { metrics } = withBrowserProto(() => parseSensorPage(body).sensors[0]);
  assertEquals(Object.keys(metrics), ["__proto__", "constructor"]);
  assertEquals(Object.getPrototypeOf(metrics), Object.prototype);
  assertEquals(Object.getOwnPropertyDescriptor(metrics, "__proto__")?.value, {
    value: 1,
    timeMs: 1,
    avg: 1,
  });
});
