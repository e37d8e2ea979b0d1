import { assert, assertEquals } from "../../tests/testing/assert.ts";
import fc from "fast-check";
import { parseField, threadWaitClock } from "./thread_wait_clock.ts";

Deno.test("parseField reads the nth space-separated decimal field as split and Number would", () => {
  fc.assert(fc.property(
    fc.array(fc.bigInt({ min: 0n, max: 2n ** 52n }), { minLength: 1, maxLength: 5 }),
    fc.nat(6),
    fc.boolean(),
    (fields, index, newline) => {
      const text = fields.join(" ") + (newline ? "\n" : "");
      const bytes = new TextEncoder().encode(text);
      const expected = index < fields.length ? Number(text.trim().split(" ")[index]) : NaN;
      assertEquals(parseField(bytes, bytes.length, index), expected);
    },
  ));
});

Deno.test("the run-queue wait clock reads the thread's schedstat wait (ms), between two direct readings", () => {
  const clock = threadWaitClock();
  if (typeof clock !== "function") {
    assert(Deno.build.os !== "linux", `a Linux thread has a wait clock: ${clock.off}`);
    return;
  }
  const direct = () =>
    Number(Deno.readTextFileSync("/proc/thread-self/schedstat").trim().split(" ")[1]) / 1e6;
  for (let i = 0; i < 20; i++) {
    const before = direct();
    const read = clock();
    const after = direct();
    assert(before <= read && read <= after, `${before} ≤ ${read} ≤ ${after}`);
  }
  clock.close();
});

Deno.test("closing the run-queue wait clock closes its schedstat file, and a read after it is NaN", () => {
  const openSchedstat = () =>
    [...Deno.readDirSync("/proc/self/fd")].filter((entry) => {
      try {
        return Deno.readLinkSync(`/proc/self/fd/${entry.name}`).endsWith("/schedstat");
      } catch {
        return false; // the directory's own fd, gone by now
      }
    }).length;
  const before = Deno.build.os === "linux" ? openSchedstat() : 0;
  const clock = threadWaitClock();
  if (typeof clock !== "function") return;
  assertEquals(openSchedstat(), before + 1);
  clock.close();
  clock.close();
  assertEquals(openSchedstat(), before);
  assert(Number.isNaN(clock()), "a read after close");
});
