// The calling thread's CPU time (Linux: clock_gettime(CLOCK_THREAD_CPUTIME_ID)
// over FFI, ~0.1 µs a call). A tick's wall time on a shared machine also
// counts the time its thread waited for a core; its CPU time does not. Both
// are reported, so a slow tick can be told from a starved one.

const CLOCK_THREAD_CPUTIME_ID = 3;

/** A clock of the calling thread's CPU time in ms, or why there is none here. */
export function threadCpuClock(): (() => number) | { off: string } {
  if (Deno.build.os !== "linux") return { off: `not Linux (${Deno.build.os})` };
  try {
    const libc = Deno.dlopen("libc.so.6", {
      clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
    });
    const timespec = new BigInt64Array(2);
    const read = libc.symbols.clock_gettime;
    return () => {
      read(CLOCK_THREAD_CPUTIME_ID, timespec);
      return Number(timespec[0]) * 1e3 + Number(timespec[1]) / 1e6;
    };
  } catch (error) {
    return { off: `no clock_gettime (${error instanceof Error ? error.message : error})` };
  }
}
