import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { glibcTrim, HeapTrimmer } from "./heap_trim.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("the heap trimmer trims every interval, never two at once, and waits for the one in flight when stopped", async () => {
  let inFlight = 0, most = 0, calls = 0;
  const slowTrim = async () => {
    calls++;
    most = Math.max(most, ++inFlight);
    await sleep(120); // longer than the interval: the next ticks must not start another
    inFlight--;
  };
  const trimmer = new HeapTrimmer(slowTrim, 30);
  await sleep(700);
  await trimmer.stop();
  assertEquals(most, 1);
  assertEquals(inFlight, 0, "stop waited for the trim in flight");
  assert(calls >= 2, `${calls} trims in 700 ms`);
  assertEquals(trimmer.stats.trims, calls);
  const after = calls;
  await sleep(100);
  assertEquals(calls, after, "no trim after stop");
});

Deno.test("the heap trimmer is off, and says why, with an interval of 0 or without glibc", async () => {
  let calls = 0;
  const never = new HeapTrimmer(() => Promise.resolve(void calls++), 0);
  const none = new HeapTrimmer({ off: "not Linux (darwin)" }, 50);
  await sleep(120);
  await never.stop();
  await none.stop();
  assertEquals(calls, 0);
  assertEquals([never.stats.off, none.stats.off], ["--trim-memory 0", "not Linux (darwin)"]);
});

Deno.test("on Linux with glibc the trim is glibc's malloc_trim, called off the main thread; elsewhere it is off", async () => {
  const trim = glibcTrim();
  if (Deno.build.os !== "linux") {
    assert(typeof trim !== "function" && /not Linux/.test(trim.off));
    return;
  }
  assert(typeof trim === "function", `off: ${JSON.stringify(trim)}`);
  // Garbage for the allocator to hold: many small buffers, dropped.
  let keep: Uint8Array[] | null = Array.from({ length: 4_000 }, () => new Uint8Array(8_192));
  keep.length = 0;
  keep = null;
  const trimmer = new HeapTrimmer(trim, 20);
  for (let i = 0; i < 100 && trimmer.stats.trims === 0; i++) await sleep(20);
  await trimmer.stop();
  assert(trimmer.stats.trims >= 1, "a trim ran");
  assert(trimmer.stats.lastTrimMs >= 0 && trimmer.stats.lastReleasedBytes >= 0);
});

Deno.test("the heap trimmer trims at once when the external bytes fall by freedBytes from their peak (a collection freed them), not on small falls", async () => {
  let calls = 0;
  let external = 100;
  const trimmer = new HeapTrimmer(() => Promise.resolve(void calls++), 3_600_000, {
    watchMs: 10,
    freedBytes: 50,
    external: () => external,
  });
  external = 300;
  await sleep(50);
  external = 270; // 30 below the peak: garbage a scavenge freed, not worth a trim
  await sleep(50);
  assertEquals(calls, 0);
  external = 240; // 60 below the peak of 300
  await sleep(50);
  assertEquals([calls, trimmer.stats.afterCollection], [1, 1]);
  await sleep(50);
  assertEquals(calls, 1, "the peak starts again after a trim");
  await trimmer.stop();
});
