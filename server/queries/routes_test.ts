import { assertEquals } from "../../tests/testing/assert.ts";
import { aggregatesRoute, historyRoute, sensorsRoute } from "./routes.ts";
import type { QueryDeps } from "./routes.ts";
import type { HistoryAnswer } from "../history/mod.ts";

/** Route deps over a hub that holds only `held` and a store that keeps readings of `kept`. */
function deps(o: { held: string[]; kept: string[]; scope: string[] | null }): QueryDeps {
  const answer = (sensorId: string): HistoryAnswer => ({
    sensorId,
    metric: "t",
    from: 0,
    to: 60_000,
    resolution: "1s",
    bucketMs: 1_000,
    points: o.kept.includes(sensorId) ? [{ t: 1_000, count: 1, min: 1, max: 1, avg: 1 }] : [],
    bounded: false,
  });
  return {
    scope: () => Promise.resolve(o.scope),
    sensors: (query) =>
      Promise.resolve({
        sensors: o.held.filter((id) => id === query.id).map((id) => ({
          id,
          group: "g",
          status: null,
          attention: "ok",
          lastSeenMs: null,
          lateDropped: 0,
          metrics: {},
        })),
        more: false,
      }),
    aggregates: () => Promise.resolve([]),
    history: (request) => Promise.resolve(answer(request.sensorId)),
    windowSizesMs: [1_000],
    countWindow: 50,
    now: () => 60_000,
  };
}

Deno.test("history the store keeps is served to an unscoped viewer though the hub does not hold the sensor; a scoped one gets 404 as for unknown", async () => {
  const get = async (d: QueryDeps, id: string) => {
    const response = await historyRoute(d)(
      new Request(`http://h/api/sensors/${id}/history?metric=t&from=0&to=60000`),
      id,
    );
    return { status: response.status, body: await response.json() };
  };
  const open = deps({ held: ["live"], kept: ["live", "deleted"], scope: null });
  assertEquals((await get(open, "live")).status, 200);
  const deleted = await get(open, "deleted");
  assertEquals([deleted.status, deleted.body.points.length], [200, 1]);
  const never = await get(open, "never");
  assertEquals([never.status, never.body.error], [404, "not_found"]);
  const scoped = deps({ held: ["live"], kept: ["live", "deleted"], scope: ["g"] });
  assertEquals((await get(scoped, "deleted")).status, 404);
});

Deno.test("the read API answers 400 naming a query parameter given twice, on every route", async () => {
  const d = deps({ held: ["live"], kept: ["live"], scope: null });
  const answers = [
    await sensorsRoute(d)(new Request("http://h/api/sensors?limit=5&limit=500")),
    await historyRoute(d)(
      new Request("http://h/api/sensors/live/history?metric=t&metric=u"),
      "live",
    ),
    await aggregatesRoute(d)(new Request("http://h/api/aggregates?group=a&group=b")),
  ];
  const names = ["limit", "metric", "group"];
  for (const [i, response] of answers.entries()) {
    assertEquals(response.status, 400, names[i]);
    const body = await response.text();
    assertEquals(body.includes(`Query parameter ${names[i]} is given more than once`), true, body);
  }
});
