// The calling thread's CPU time (Linux: clock_gettime(CLOCK_THREAD_CPUTIME_ID)
// over FFI, ~0.1 µs a call). A tick's wall time on a shared machine also
// counts the time its thread waited for a core; its CPU time does not. Both
// are reported, so a slow tick can be told from a starved one.

const CLOCK_THREAD_CPUTIME_ID = 3;

/** A clock read by calling it; `close` releases what it holds (later reads give NaN). */
export type ThreadClock = (() => number) & { close(): void };

/** A clock of the calling thread's CPU time in ms, or why there is none here. */
export function threadCpuClock(): ThreadClock | { off: string } {
  if (Deno.build.os !== "linux") return { off: `not Linux (${Deno.build.os})` };
  try {
    const libc = Deno.dlopen("libc.so.6", {
      clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
    });
    const timespec = new BigInt64Array(2);
    const clockGettime = libc.symbols.clock_gettime;
    let open = true;
    const read = (): number => {
      // A symbol called after its library is closed is undefined behaviour, not an error.
      if (!open) return NaN;
      clockGettime(CLOCK_THREAD_CPUTIME_ID, timespec);
      return Number(timespec[0]) * 1e3 + Number(timespec[1]) / 1e6;
    };
    return Object.assign(read, {
      close() {
        if (open) libc.close();
        open = false;
      },
    });
  } catch (error) {
    return { off: `no clock_gettime (${error instanceof Error ? error.message : error})` };
  }
}
