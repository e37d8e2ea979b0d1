import { gunzipSync } from "node:zlib";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { groupsRoute } from "./groups_route.ts";

function fixture(groupCount: number) {
  let now = 0;
  const asked: (string[] | null)[] = [];
  let fail = false;
  const route = groupsRoute({
    scope: (request) => {
      const groups = request.headers.get("x-scope");
      return Promise.resolve(groups === null ? null : groups.split(","));
    },
    groups: (scope) => {
      asked.push(scope);
      if (fail) return Promise.reject(new Error("hub stopped"));
      return Promise.resolve(
        Array.from({ length: groupCount }, (_, i) => ({ group: `site-${i}`, sensors: i })),
      );
    },
    now: () => now,
  });
  const get = (headers: Record<string, string> = {}) =>
    route(new Request("http://h/api/groups", { headers }));
  return {
    get,
    asked,
    tick: (ms: number) => (now += ms),
    failing: (on: boolean) => (fail = on),
  };
}

Deno.test("the groups answer is made once a second per viewer scope and shared", async () => {
  const f = fixture(3);
  const [a, b] = await Promise.all([f.get(), f.get()]);
  assertEquals(await a.json(), await b.json());
  await f.get({ "x-scope": "site-1" });
  f.tick(999);
  await f.get();
  assertEquals(f.asked, [null, ["site-1"]]);
  f.tick(1);
  const fresh = await (await f.get()).json();
  assertEquals(f.asked, [null, ["site-1"], null]);
  assertEquals(fresh.groups[2], { group: "site-2", sensors: 2 });
});

Deno.test("a large groups answer is gzipped for clients that take gzip, and reads the same", async () => {
  const f = fixture(2_000);
  const plain = await f.get();
  assertEquals(plain.headers.get("content-encoding"), null);
  const text = await plain.text();
  assert(text.length > 16 * 1024, `${text.length} bytes`);
  const zipped = await f.get({ "accept-encoding": "br, gzip;q=0.8" });
  assertEquals(zipped.headers.get("content-encoding"), "gzip");
  assertEquals(zipped.headers.get("vary"), "accept-encoding");
  const bytes = new Uint8Array(await zipped.arrayBuffer());
  assert(bytes.byteLength < text.length / 4, `${bytes.byteLength} of ${text.length}`);
  assertEquals(new TextDecoder().decode(gunzipSync(bytes)), text);
  for (const accept of ["gzip;q=0, deflate", "gzip; q = 0, *", "identity", ""]) {
    const refused = await f.get({ "accept-encoding": accept });
    assertEquals(refused.headers.get("content-encoding"), null, accept);
    await refused.body?.cancel();
  }
  const any = await f.get({ "accept-encoding": "br;q=1, *;q=0.5" });
  assertEquals(any.headers.get("content-encoding"), "gzip");
  await any.body?.cancel();
  // A small answer goes as it is.
  const small = await fixture(3).get({ "accept-encoding": "gzip" });
  assertEquals(small.headers.get("content-encoding"), null);
});

Deno.test("a failed groups answer is not kept: the next request asks again", async () => {
  const f = fixture(3);
  f.failing(true);
  assertEquals((await f.get()).status, 500);
  f.failing(false);
  assertEquals((await f.get()).status, 200);
  assertEquals(f.asked.length, 2);
});
