import fc from "fast-check";
import * as flatbuffers from "flatbuffers";
import { Body, Envelope, Subscribe, Subscription, ViewSubscribe } from "./schema_generated.ts";
import { assert, assertEquals } from "../tests/testing/assert.ts";
import {
  decodeClientMessage,
  MAX_CLIENT_MESSAGE_BYTES,
  MAX_HIDDEN_METRICS,
} from "./client_messages.ts";
import type { ViewOrder, ViewSortField, ViewSortKey } from "./client_messages.ts";
import {
  encodeAuth,
  encodeClientStats,
  encodeSubscribe,
  encodeUnsubscribe,
  encodeViewSubscribe,
} from "./mod.ts";
import { MAX_GROUP_LENGTH } from "./names.ts";

Deno.test("the inbound message cap holds the largest legitimate client messages", () => {
  // 64 subscriptions (the most one Subscribe may carry), each a group path of the longest length.
  const groups = Array.from({ length: 64 }, (_, i) => ({
    id: i + 1,
    group: `g${i}`.padEnd(MAX_GROUP_LENGTH, "x"),
  }));
  // A token as long as the 16 KiB the `bearer.<jwt>` subprotocol header can carry.
  const token = "t".repeat(16 * 1024);
  const ids = Array.from({ length: 1_400 }, (_, i) => `sensor-${String(i).padStart(25, "0")}`);
  const cases: [string, Uint8Array][] = [
    [
      "64 longest group subscriptions with a resume point",
      encodeSubscribe(groups, { epoch: 1, seq: 2 }),
    ],
    ["an Auth with a 16 KiB token", encodeAuth(token)],
    ["1,400 sensor ids of 32 characters", encodeSubscribe([{ id: 1, sensors: ids }])],
    ["an Unsubscribe of 64 ids", encodeUnsubscribe(groups.map((g) => g.id))],
  ];
  for (const [what, bytes] of cases) {
    assert(
      bytes.byteLength <= MAX_CLIENT_MESSAGE_BYTES,
      `${what}: ${bytes.byteLength} bytes > ${MAX_CLIENT_MESSAGE_BYTES}`,
    );
    decodeClientMessage(bytes); // and it is a valid message
  }
  const subscribed = decodeClientMessage(cases[0][1]);
  assertEquals(subscribed.type === "subscribe" && subscribed.subscriptions.length, 64);
});

const viewSpec = fc.record({
  subscriptions: fc.array(
    fc.oneof(
      fc.record({ id: fc.nat(100), group: fc.stringMatching(/^[a-z0-9/-]{1,20}$/) }),
      fc.record({
        id: fc.nat(100),
        sensors: fc.array(fc.string({ maxLength: 10 }), { maxLength: 4 }),
      }),
      fc.record({ id: fc.nat(100), all: fc.constant(true) }),
    ),
    { maxLength: 4 },
  ),
  sort: fc.record({
    key: fc.constantFrom("id", "group", "seen", "metric", "status") as fc.Arbitrary<ViewSortKey>,
    metric: fc.string({ maxLength: 12 }),
    field: fc.constantFrom("last", "avg", "min", "max") as fc.Arbitrary<ViewSortField>,
    direction: fc.constantFrom("asc", "desc") as fc.Arbitrary<"asc" | "desc">,
  }),
  filter: fc.record({
    idSubstring: fc.string({ maxLength: 12 }),
    groupPrefix: fc.option(fc.stringMatching(/^[a-z0-9/-]{1,20}$/)),
    status: fc.option(fc.array(fc.nat(255), { maxLength: 5 })),
  }),
  offset: fc.nat(),
  limit: fc.nat(5000),
  order: fc.constantFrom("keep", "hold", "release", "resort") as fc.Arbitrary<ViewOrder>,
  resume: fc.option(
    fc.tuple(fc.nat(0xffff_ffff), fc.nat()).map(([epoch, seq]) => ({ epoch, seq })),
  ),
  hiddenMetrics: fc.array(fc.string({ maxLength: 12 }), { maxLength: 6 }),
});

Deno.test("a ViewSubscribe decodes to what the client asked for", () => {
  fc.assert(
    fc.property(viewSpec, (spec) => {
      const message = decodeClientMessage(encodeViewSubscribe(spec));
      assertEquals(message.type, "view");
      if (message.type !== "view") return;
      const r = message.request;
      assertEquals(
        r.subscriptions,
        spec.subscriptions.map((s) => ({
          id: s.id,
          all: "all" in s,
          group: "group" in s ? s.group : null,
          sensors: "sensors" in s ? s.sensors : [],
        })),
      );
      assertEquals(r.sort, { ...spec.sort });
      assertEquals(r.filter, {
        idSubstring: spec.filter.idSubstring,
        groupPrefix: spec.filter.groupPrefix,
        status: spec.filter.status === null ? null : [...spec.filter.status],
      });
      assertEquals([r.offset, r.limit, r.order, r.resume], [
        spec.offset,
        spec.limit,
        spec.order,
        spec.resume,
      ]);
      assertEquals(r.hiddenMetrics, spec.hiddenMetrics);
    }),
  );
});

Deno.test("a ViewSubscribe with an unknown sort key, field or order is refused by name", () => {
  // Not the defaults, so that each field is written (and can be patched).
  const bytes = encodeViewSubscribe({
    offset: 0,
    limit: 10,
    sort: { key: "group", field: "avg" },
    order: "hold",
  });
  for (const [field, what] of [[1, "sort key"], [3, "sort field"], [10, "order"]] as const) {
    const copy = bytes.slice();
    const at = fieldPosition(copy, field);
    copy[at] = 9;
    let message = "";
    try {
      decodeClientMessage(copy);
    } catch (error) {
      assert(error instanceof TypeError, String(error));
      message = error.message;
    }
    assertEquals(message, `Invalid message: ${what} 9 is unknown`);
  }
});

/** Where field `id` of the Envelope's body table lies in `bytes` (it must be present). */
function fieldPosition(bytes: Uint8Array, id: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const root = view.getUint32(0, true);
  const rootVtable = root - view.getInt32(root, true);
  const bodyField = root + view.getUint16(rootVtable + 4 + 2 * 1, true);
  const body = bodyField + view.getUint32(bodyField, true);
  const vtable = body - view.getInt32(body, true);
  const offset = view.getUint16(vtable + 4 + 2 * id, true);
  assert(offset !== 0, `field ${id} is present`);
  return body + offset;
}

Deno.test("the largest ViewSubscribe fits the inbound message cap", () => {
  const groups = Array.from({ length: 64 }, (_, i) => ({
    id: i + 1,
    group: `g${i}`.padEnd(MAX_GROUP_LENGTH, "x"),
  }));
  const bytes = encodeViewSubscribe({
    subscriptions: groups,
    sort: { key: "metric", metric: "m".repeat(64), field: "avg", direction: "desc" },
    filter: {
      idSubstring: "x".repeat(128),
      groupPrefix: "g".repeat(MAX_GROUP_LENGTH),
      status: Array.from({ length: 256 }, (_, i) => i),
    },
    offset: 2 ** 31 - 1,
    limit: 1000,
    order: "resort",
    resume: { epoch: 1, seq: 2 },
    hiddenMetrics: Array.from({ length: MAX_HIDDEN_METRICS }, (_, i) => `${i}`.padEnd(64, "m")),
  });
  assert(bytes.byteLength <= MAX_CLIENT_MESSAGE_BYTES, `${bytes.byteLength} bytes`);
  const message = decodeClientMessage(bytes);
  assertEquals(message.type === "view" && message.request.subscriptions.length, 64);
  assertEquals(message.type === "view" && message.request.hiddenMetrics.length, 1024);
});

Deno.test("a ViewSubscribe hiding more than 1,024 metrics is refused", () => {
  const bytes = encodeViewSubscribe({
    offset: 0,
    limit: 10,
    hiddenMetrics: Array.from({ length: MAX_HIDDEN_METRICS + 1 }, (_, i) => `m${i}`),
  });
  let refused = "";
  try {
    decodeClientMessage(bytes);
  } catch (error) {
    assert(error instanceof TypeError, String(error));
    refused = error.message;
  }
  assertEquals(refused, "Invalid message: more than 1024 hidden metrics");
});

Deno.test("ClientStats carries the client's frame time; a time that is not a number ≥ 0 is refused", () => {
  assertEquals(decodeClientMessage(encodeClientStats(12.5, 40)), {
    type: "stats",
    frameP95Ms: 12.5,
    frames: 40,
  });
  for (const bad of [-1, NaN, Infinity]) {
    let refused = "";
    try {
      decodeClientMessage(encodeClientStats(bad, 1));
    } catch (error) {
      refused = (error as Error).message;
    }
    assertEquals(refused, "Invalid message: ClientStats frame_p95_ms is not a time ≥ 0");
  }
});

Deno.test("strings shared by many offsets are refused: a 100 KB message cannot decode to gigabytes of copies", () => {
  const refusal = (bytes: Uint8Array) => {
    try {
      decodeClientMessage(bytes);
      return "";
    } catch (error) {
      assert(error instanceof TypeError, String(error));
      return error.message;
    }
  };
  const shared = /Invalid FlatBuffer: strings of more than \d+ bytes in all/;
  // 1,024 hidden metric names that are one 100 KB string.
  let b = new flatbuffers.Builder(1024);
  const name = b.createString("x".repeat(100 * 1024));
  const hidden = ViewSubscribe.createHiddenMetricsVector(b, Array(1024).fill(name));
  ViewSubscribe.startViewSubscribe(b);
  ViewSubscribe.addLimit(b, 10);
  ViewSubscribe.addHiddenMetrics(b, hidden);
  b.finish(Envelope.createEnvelope(b, Body.ViewSubscribe, ViewSubscribe.endViewSubscribe(b)));
  assert(b.asUint8Array().byteLength <= MAX_CLIENT_MESSAGE_BYTES);
  assert(shared.test(refusal(b.asUint8Array().slice())), refusal(b.asUint8Array().slice()));
  // 4 subscriptions of 4,000 sensor ids that are one 60 KB string.
  b = new flatbuffers.Builder(1024);
  const id = b.createString("s".repeat(60 * 1024));
  const subscriptions = Array.from({ length: 4 }, (_, i) => {
    const sensors = Subscription.createSensorsVector(b, Array(4000).fill(id));
    Subscription.startSubscription(b);
    Subscription.addId(b, i + 1);
    Subscription.addSensors(b, sensors);
    return Subscription.endSubscription(b);
  });
  const list = Subscribe.createSubscriptionsVector(b, subscriptions);
  const body = Subscribe.createSubscribe(b, list, false, 0, 0n, false, false);
  b.finish(Envelope.createEnvelope(b, Body.Subscribe, body));
  assert(b.asUint8Array().byteLength <= MAX_CLIENT_MESSAGE_BYTES);
  assert(shared.test(refusal(b.asUint8Array().slice())), refusal(b.asUint8Array().slice()));
  // The same names, each written once, decode.
  const once = encodeViewSubscribe({
    offset: 0,
    limit: 10,
    hiddenMetrics: Array.from({ length: 1024 }, (_, i) => `${i}`.padEnd(64, "m")),
  });
  assertEquals(refusal(once), "");
});
