import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { Admission, mediaOf } from "./admission.ts";
import type { Writer } from "../auth/mod.ts";

const writer: Writer = { id: "k1", name: "gateway", groups: ["plant-a"] };
/** One valid key, "good"; keys are in use. */
const keys = {
  inUse: () => Promise.resolve(true),
  verify: (presented: string) => Promise.resolve(presented === "good" ? writer : null),
};

const post = (headers: Record<string, string>) =>
  new Request("http://x/api/ingest", { method: "POST", body: "[]", headers });

Deno.test("admission: open ingest admits anyone; with keys, a request without a valid one gets 401", async () => {
  const open = new Admission(undefined);
  assertEquals(await open.admit(post({ "content-type": "application/json" })), {
    writer: null,
    media: "json",
  });
  const keyed = new Admission(keys);
  for (const auth of [{}, { authorization: "Bearer wrong" }] as Record<string, string>[]) {
    const refused = await keyed.admit(post({ "content-type": "application/json", ...auth }));
    assert(refused instanceof Response);
    assertEquals(refused.status, 401);
    assertEquals(refused.headers.get("www-authenticate"), 'Bearer realm="pulseboard-ingest"');
  }
  assertEquals(
    await keyed.admit(post({ "content-type": "application/json", "x-api-key": "good" })),
    { writer, media: "json" },
  );
});

Deno.test("admission: a key gets its burst, then 429 with Retry-After until its bucket refills", async () => {
  let now = 0;
  const admission = new Admission(keys, { rate: { capacity: 3, perSecond: 2 }, now: () => now });
  const ask = () =>
    admission.admit(post({ "content-type": "application/json", authorization: "Bearer good" }));
  const statuses = async (n: number) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const answer = await ask();
      out.push(answer instanceof Response ? answer.status : 200);
    }
    return out;
  };
  assertEquals(await statuses(4), [200, 200, 200, 429]);
  const refused = await ask();
  assert(refused instanceof Response);
  assertEquals(refused.headers.get("retry-after"), "1");
  now += 1_000; // two more tokens
  assertEquals(await statuses(3), [200, 200, 429]);
});

Deno.test("admission: JSON and FlatBuffers (x-flatbuffers or octet-stream) only; others get 415", async () => {
  const cases: [string, string | null][] = [
    ["application/json", "json"],
    ["Application/JSON; charset=utf-8", "json"],
    ["application/x-flatbuffers", "flatbuffers"],
    ["application/octet-stream", "flatbuffers"],
    ["text/plain", null],
    ["", null],
  ];
  for (const [type, media] of cases) {
    assertEquals(mediaOf(post({ "content-type": type })), media, type);
  }
  const refused = await new Admission(undefined).admit(post({ "content-type": "text/csv" }));
  assert(refused instanceof Response);
  assertEquals(refused.status, 415);
});
