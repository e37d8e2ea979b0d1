/**
 * V8 flags the server is started with (`deno task start`, the demo, the
 * bench and the container image). V8 sizes its young generation by the
 * allocation rate, up to 3 × 16 MB: with thousands of sockets that is
 * about 5 KB a client of garbage kept resident. Semi-spaces of at most
 * 4 MB keep it near 12 MB, with no CPU cost measured at the modest load.
 * They can only be set when the process starts, hence a flag, not code.
 */
export const SERVER_V8_FLAGS = "--max-semi-space-size=4";

/** The same flags as a `deno run` argument. */
export const SERVER_V8_FLAGS_ARG = `--v8-flags=${SERVER_V8_FLAGS}`;
