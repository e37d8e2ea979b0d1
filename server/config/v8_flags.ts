/**
 * V8 flags the server is started with (`deno task start`, the demo, the
 * bench and the container image). They can only be set when the process
 * starts, hence flags, not code.
 *
 * - `--max-semi-space-size=4`: V8 sizes its young generation by the
 *   allocation rate, up to 3 × 16 MB: with thousands of sockets that is
 *   about 5 KB a client of garbage kept resident. Semi-spaces of at most
 *   4 MB keep it near 12 MB, with no CPU cost measured at the modest load.
 * - `--heap-growing-percent=20`: after a major collection V8 lets the old
 *   generation and its global limit (old generation plus ArrayBuffers)
 *   grow by a factor of its own choosing (up to 4); at 100,000 sensors
 *   that let about 100 MB of dead ArrayBuffers build up over 13 s before
 *   the next collection, under the checkpoint's image (`deno task bench
 *   --scale 100000` with `PULSEBOARD_SCALE_TRACE`). Growing by 20% ran
 *   24–28 major collections in the 30 s feed instead of 9–12. Not a cap:
 *   the heap still grows as far as live data needs.
 * - `--single-threaded-gc`: V8's helper threads mark and sweep beside the
 *   isolate; at the modest load (10,000 readings/s, 200 clients) they took
 *   0.5–0.7% of a core, and the isolate doing the same work itself took
 *   0.3–1.1 points less in all (4 alternated pairs, stop 42). At 500,000
 *   readings/s the helpers' 0.25 µs a reading fell to 0.05 with the total
 *   unchanged, and the hub tick at 100,000 sensors kept its p99: on 2 cores
 *   the helpers only competed with the shards' workers and Deno KV's thread.
 */
export const SERVER_V8_FLAGS =
  "--max-semi-space-size=4,--heap-growing-percent=20,--single-threaded-gc";

/** The same flags as a `deno run` argument. */
export const SERVER_V8_FLAGS_ARG = `--v8-flags=${SERVER_V8_FLAGS}`;
