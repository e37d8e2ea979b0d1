import { assertEquals } from "../../../tests/testing/assert.ts";
import { withTempKv } from "../../../tests/testing/temp_kv.ts";
import { KvRetryRecords } from "./retry_records.ts";
import { RetryWindow } from "./retry_window.ts";

Deno.test("retry records: lookups asked together are read together and each gets its own answer; forgetting a session moves its epoch", async () => {
  await withTempKv(async (kv) => {
    const records = new KvRetryRecords(kv, { ttlMs: 60_000 });
    assertEquals(await records.open("k", "dev"), { epoch: 0, resumed: false });
    const op = kv.atomic();
    for (let id = 1; id <= 25; id += 2) {
      op.mutate(records.record(records.key("k", "dev", 0, id), id * 7));
    }
    op.mutate(records.record(records.key("k", "other", 0, 1), 1));
    await op.commit();
    assertEquals(await records.open("k", "dev"), { epoch: 0, resumed: true });
    assertEquals(await records.open("", "dev"), { epoch: 0, resumed: false });
    // 30 lookups in one turn (three reads of ten), odd ids recorded, even ones not.
    const got = await Promise.all(
      Array.from({ length: 30 }, (_, i) => records.committed(records.key("k", "dev", 0, i + 1))),
    );
    assertEquals(
      got,
      Array.from({ length: 30 }, (_, i) => (i + 1) % 2 === 1 && i + 1 <= 25 ? (i + 1) * 7 : null),
    );
    await records.forget("k", "dev");
    // A new epoch: the session starts fresh, its old records no longer count.
    assertEquals(await records.open("k", "dev"), { epoch: 1, resumed: false });
    assertEquals(await records.open("k", "other"), { epoch: 0, resumed: true });
    await records.forget("k", "dev");
    assertEquals((await records.open("k", "dev")).epoch, 2);
  });
});

Deno.test("the retry window looks up the first publishes, each id once, until a miss, and DUP publishes always", () => {
  const window = new RetryWindow({ firstPublishes: 4 });
  const asked = [[5, false], [6, false], [5, false], [7, true], [8, false], [9, false], [
    9,
    true,
  ]] as const;
  assertEquals(asked.map(([id, dup]) => window.mayBeRetry(id, dup)), [
    true,
    true,
    false,
    true,
    false,
    false,
    true,
  ]);
  // Once a lookup found nothing, the retries are over.
  const missed = new RetryWindow({ firstPublishes: 100 });
  assertEquals(missed.mayBeRetry(1, false), true);
  missed.miss();
  assertEquals([missed.mayBeRetry(2, false), missed.mayBeRetry(3, true)], [false, true]);
  const dupOnly = new RetryWindow({ firstPublishes: 100, dupOnly: true });
  assertEquals([dupOnly.mayBeRetry(1, false), dupOnly.mayBeRetry(1, true)], [false, true]);
});

Deno.test("forgets asked while a commit runs are committed together, within Deno KV's limits, and each moves its session's epoch once", async () => {
  await withTempKv(async (kv) => {
    let commits = 0;
    const counting = new Proxy(kv, {
      get(target, name) {
        if (name === "atomic") {
          return () => {
            const op = target.atomic();
            const commit = op.commit.bind(op);
            op.commit = () => (commits++, commit());
            return op;
          };
        }
        const value = Reflect.get(target, name);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const records = new KvRetryRecords(counting, { ttlMs: 60_000 });
    // Long ids of 4-byte characters: 500 of them would pass 80 KiB of keys in one commit.
    const ids = Array.from(
      { length: 2_000 },
      (_, i) => i % 3 === 0 ? `${i}-${"\u{1F321}".repeat(120)}` : `device-${i}`,
    );
    // The same session twice in one gathering moves its epoch once.
    const forgotten = [...ids, ...ids.slice(0, 50)].map((id) => records.forget("k", id));
    await Promise.all(forgotten);
    const expected = new Map(ids.map((id) => [id, 1]));
    // Then some of them again, one at a time.
    for (const id of ids.slice(0, 20)) {
      await records.forget("k", id);
      expected.set(id, 2);
    }
    for (const [id, epoch] of expected) {
      assertEquals((await records.open("k", id)).epoch, epoch, id);
    }
    // The 2,000 gathered into a few commits (under 1,000 mutations and 80 KiB of keys
    // each), then the 20 one at a time; not one commit per forget.
    assertEquals(commits < 20 + 20, true, `${commits} commits`);
  });
});
