import { assert, assertEquals } from "../../../tests/testing/assert.ts";
import { withTempKv } from "../../../tests/testing/temp_kv.ts";
import { KvLog } from "../../store/mod.ts";
import type { ReadingBlock } from "../readings/mod.ts";
import { GroupCommit } from "./group_commit.ts";
import { OrderedAcks } from "./ordered_acks.ts";

async function logIds(log: KvLog): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (;;) {
    const entries = await log.read(cursor, 100);
    if (entries.length === 0) return ids;
    for (const e of entries) ids.push(...Array.from(e.block.sensor, (s) => e.block.strings[s]));
    cursor = entries.at(-1)!.cursor;
  }
}

Deno.test("publishes from many connections share appends; each is done only once its readings and record are durable", async () => {
  await withTempKv(async (kv, path) => {
    const log = new KvLog(kv);
    const other = await Deno.openKv(path);
    const appends: number[] = [];
    const sink = {
      append: (block: ReadingBlock, options?: Parameters<KvLog["append"]>[1]) => {
        appends.push(block.length);
        return log.append(block, options);
      },
    };
    const commit = new GroupCommit(sink);
    const done: string[] = [];
    const checks: Promise<void>[] = [];
    for (let i = 0; i < 3_000; i++) {
      commit.whenRoom((builder) => {
        builder.begin(`s${i}`, "g", 1_000 + i);
        builder.addValue("v", i);
        const record: Deno.KvMutation | null = i % 3 === 0
          ? { type: "set", key: ["rec", i], value: i }
          : null;
        checks.push(
          new Promise((resolve, reject) =>
            commit.seal(record, (error) => {
              if (error) return reject(error);
              done.push(`s${i}`);
              // Durable when done: a second handle on the file already sees the record.
              if (record) {
                other.get(["rec", i]).then((r) =>
                  r.value === i ? resolve() : reject(new Error(`record ${i} missing`))
                );
              } else resolve();
            })
          ),
        );
      });
    }
    await Promise.all(checks);
    assertEquals(done.length, 3_000);
    assert(appends.length < 10, `3000 publishes took ${appends.length} appends`);
    assertEquals(await logIds(log), Array.from({ length: 3_000 }, (_, i) => `s${i}`));
    assertEquals(commit.readingsCommitted, 3_000);
    assertEquals(commit.pendingReadings, 0);
    other.close();
  });
});

Deno.test("a busy log is waited out: the publishes are held, then committed, none refused", async () => {
  await withTempKv(async (kv) => {
    const log = new KvLog(kv);
    // The log's writer refuses the first appends as Busy (a saturated backlog),
    // deterministically, then takes them: the publishes must wait, not fail.
    let refusals = 3;
    const sink = {
      append: (...args: Parameters<KvLog["append"]>) => {
        if (refusals > 0) {
          refusals--;
          return Promise.reject(new Deno.errors.Busy("the log writer is saturated"));
        }
        return log.append(...args);
      },
    };
    const commit = new GroupCommit(sink, { busyRetryMs: 5, lingerMs: 0 });
    const results: (Error | null)[] = [];
    await new Promise<void>((resolve) => {
      for (let i = 0; i < 500; i++) {
        commit.whenRoom((builder) => {
          builder.begin(`m${i}`, "", 2);
          builder.addValue("v", i);
          commit.seal(null, (error) => {
            results.push(error);
            if (results.length === 500) resolve();
          });
        });
      }
    });
    assertEquals(commit.busyWaits, 3, "each Busy was waited out once");
    assertEquals(results.filter((e) => e !== null), []);
    assertEquals((await logIds(log)).filter((id) => id.startsWith("m")).length, 500);
  });
});

Deno.test("a failed append fails exactly its batch's publishes, and the next batch goes on", async () => {
  let fail = true;
  const sink = {
    append: () => {
      const error = fail ? new Error("disk gone") : null;
      fail = false;
      return error ? Promise.reject(error) : Promise.resolve();
    },
  };
  const commit = new GroupCommit(sink);
  const outcome = (i: number) =>
    new Promise<string>((resolve) =>
      commit.whenRoom((builder) => {
        builder.begin(`s${i}`, "", 1);
        builder.addValue("v", 1);
        commit.seal(null, (error) => resolve(error ? error.message : "ok"));
      })
    );
  assertEquals(await Promise.all([outcome(0), outcome(1)]), ["disk gone", "disk gone"]);
  assertEquals(await outcome(2), "ok");
});

Deno.test("acknowledgements run in arrival order whatever order their work finishes in", () => {
  const acks = new OrderedAcks();
  const ran: number[] = [];
  const slots = Array.from({ length: 6 }, (_, i) => acks.push(() => ran.push(i)));
  for (const i of [3, 1, 5, 4]) acks.settle(slots[i]);
  assertEquals(ran, []);
  acks.settle(slots[0]);
  assertEquals(ran, [0, 1]);
  acks.settle(slots[2]);
  assertEquals(ran, [0, 1, 2, 3, 4, 5]);
  assertEquals(acks.pending, 0);
});
