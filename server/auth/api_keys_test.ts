import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { ApiKeys, groupAllowed } from "./api_keys.ts";

Deno.test("API keys verify by hash and stop working when revoked, without reopening ingest", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const keys = new ApiKeys(kv, { cacheMs: 0 });
    assertEquals(await keys.inUse(), false);
    const { key, record } = await keys.create("line 3 gateway", ["plant-a/line-3"]);
    assert(/^pb_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/.test(key), key);
    const secret = key.split("_").slice(2).join("_");
    const stored = JSON.stringify(await keys.list());
    assert(!stored.includes(secret), "the secret itself is never stored");
    assertEquals(await keys.verify(key), {
      id: record.id,
      name: "line 3 gateway",
      groups: ["plant-a/line-3"],
    });
    assertEquals(await keys.verify(key.slice(0, -1) + (key.endsWith("A") ? "B" : "A")), null);
    assertEquals(await keys.verify("pb_nope"), null);
    assertEquals(await keys.inUse(), true);
    assert(await keys.revoke(record.id));
    assertEquals(await keys.verify(key), null);
    assertEquals(await keys.inUse(), true, "revoking the last key does not open ingest");
  } finally {
    kv.close();
  }
});

Deno.test("group scopes cover whole segments; * covers all", () => {
  assert(groupAllowed(["plant-a"], "plant-a/line-3"));
  assert(!groupAllowed(["plant-a"], "plant-ab"));
  assert(groupAllowed(["*"], "default"));
  assert(!groupAllowed([], "plant-a"));
});

Deno.test("a key is made only for group prefixes a reading's group can be under, or *", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const keys = new ApiKeys(kv, { cacheMs: 0 });
    for (const bad of ["plant-a/", "/plant-a", "a b", "", "plant-a//x", "x".repeat(129)]) {
      let message = "";
      await keys.create("k", [bad]).catch((e: TypeError) => message = e.message);
      assert(
        message.startsWith(`Cannot create a key: ${JSON.stringify(bad)} is no group prefix`),
        message,
      );
    }
    assertEquals(await keys.list(), [], "nothing was stored for them");
    for (const good of [["*"], ["plant-a"], ["plant-a/line-1", "b.c:d_e-f"]]) {
      assertEquals((await keys.create("k", good)).record.groups, good);
    }
  } finally {
    kv.close();
  }
});
