import { assert } from "../../tests/testing/assert.ts";
import { EventWindowStore } from "./event_window_store.ts";

// The output columns of a shard at a small fleet: every 1 s window of its
// sensors ends together, once a second. Both buffers stay at burst size, so
// once they have grown a burst allocates no new one (they were sent back to
// a quarter and grown again every second, churning ArrayBuffers).

const spec = { sizesMs: [1_000, 10_000, 60_000], graceMs: 5_000 };

Deno.test("a small fleet's window bursts a second apart are handed out in the same two buffers once both have grown", () => {
  const store = new EventWindowStore(spec, { reuse: true });
  const base = 1_000_000_000_000;
  const owners = Array.from({ length: 1_000 }, (_, i) => store.windowsFor(i, 0));
  const buffers = new Set<ArrayBufferLike>();
  let handed = 0;
  for (let second = 0; second < 90; second++) {
    // Eleven flushes a second, each after an eleventh of the sensors' readings of this second:
    // bursts land in either buffer in turn (flushes and window ends are not in step).
    for (let k = 0; k < 11; k++) {
      for (let i = k; i < owners.length; i += 11) {
        store.add(owners[i], second, base + second * 1_000 + k * 90);
      }
      const out = store.take();
      handed += out.length;
      // Once every size's windows have ended and closed (the 60 s ones at 65 s).
      if (second >= 66) buffers.add(out.sensor.buffer);
    }
  }
  // The 1 s windows of every sensor went out (provisional, then final), at the least.
  assert(handed >= 2 * 88 * owners.length, `${handed} windows handed out`);
  assert(buffers.size <= 2, `${buffers.size} buffers handed out over 24 s of takes`);
});
