import { assert } from "../../tests/testing/assert.ts";
import { threadCpuClock } from "./thread_clock.ts";

Deno.test("the thread CPU clock advances by the work done, not by time asleep", async () => {
  const clock = threadCpuClock();
  if (typeof clock !== "function") {
    assert(Deno.build.os !== "linux", `Linux has the clock: ${clock.off}`);
    return;
  }
  const asleep = clock();
  await new Promise((resolve) => setTimeout(resolve, 200));
  const slept = clock() - asleep;
  assert(slept < 100, `200 ms asleep cost ${slept} ms of CPU`);
  // 100 ms of work on this thread: its CPU time grows by it, less any time it was preempted
  // (a loaded test machine may take much of it), never by more than the wall time.
  const busyFrom = clock();
  const wallFrom = performance.now();
  let x = 0;
  while (performance.now() - wallFrom < 100) x += Math.sqrt(x + 1);
  const busy = clock() - busyFrom;
  const wall = performance.now() - wallFrom;
  assert(x > 0);
  assert(busy > 5 && busy <= wall + 1, `${wall} ms busy counted ${busy} ms of CPU`);
  clock.close();
});

Deno.test("closing the thread CPU clock releases libc's handle, and a read after it is NaN", () => {
  const clock = threadCpuClock();
  if (typeof clock !== "function") return;
  assert(Number.isFinite(clock()));
  clock.close();
  clock.close();
  assert(Number.isNaN(clock()), "a read after close");
});
