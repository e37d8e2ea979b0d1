import { assertEquals } from "../../tests/testing/assert.ts";
import fc from "fast-check";
import { CGROUP_LIMIT_FILES, memoryLimitBytes, parseCgroupLimit } from "./memory_limit.ts";

const GiB = 2 ** 30;

Deno.test("a container's cgroup limit (v2 or v1) lowers the memory the defaults are sized from; none or a larger one does not", () => {
  const files = (v2: string | null, v1: string | null) => (path: string) =>
    path === CGROUP_LIMIT_FILES[0] ? v2 : path === CGROUP_LIMIT_FILES[1] ? v1 : null;
  assertEquals(memoryLimitBytes(64 * GiB, files(`${2 * GiB}\n`, null)), 2 * GiB);
  assertEquals(memoryLimitBytes(64 * GiB, files(null, `${3 * GiB}\n`)), 3 * GiB);
  assertEquals(memoryLimitBytes(64 * GiB, files("max\n", null)), 64 * GiB);
  // cgroup v1 without a limit: 2^63 - 1 rounded down to a page.
  assertEquals(memoryLimitBytes(24 * GiB, files(null, "9223372036854771712\n")), 24 * GiB);
  assertEquals(memoryLimitBytes(8 * GiB, files(`${16 * GiB}`, null)), 8 * GiB);
  assertEquals(memoryLimitBytes(8 * GiB, files(null, null)), 8 * GiB);
  assertEquals(memoryLimitBytes(64 * GiB, files(`${4 * GiB}`, `${2 * GiB}`)), 2 * GiB);
});

Deno.test("a limit file's text is bytes only when it is a positive decimal integer below 2^60", () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.string(), fc.bigInt({ min: -10n, max: 2n ** 64n }).map(String)),
      (text) => {
        const parsed = parseCgroupLimit(`${text}\n`);
        const n = /^\d+$/.test(text.trim()) ? BigInt(text.trim()) : null;
        const expected = n !== null && n > 0n && n < 2n ** 60n ? Number(n) : null;
        assertEquals(parsed, expected, JSON.stringify(text));
      },
    ),
  );
});
