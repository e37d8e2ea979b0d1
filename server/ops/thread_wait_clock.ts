// The calling thread's time spent runnable but waiting for a core (Linux:
// the second field of /proc/thread-self/schedstat, in ns). A tick's wall
// time less its CPU time is any time its thread did not run; this tells how
// much of that was the run queue (other threads or processes on its core)
// rather than blocking or the host's steal, which the guest does not see.

import type { ThreadClock } from "./thread_clock.ts";

/** A clock of the calling thread's run-queue wait in ms, or why there is none here. */
export function threadWaitClock(): ThreadClock | { off: string } {
  if (Deno.build.os !== "linux") return { off: `not Linux (${Deno.build.os})` };
  try {
    // Opened once: /proc/thread-self resolves to this thread at open, and a
    // read from offset 0 renders the file afresh (no open per reading).
    const file = Deno.openSync("/proc/thread-self/schedstat", { read: true });
    const buffer = new Uint8Array(128);
    let open = true;
    const read = (): number => {
      if (!open) return NaN;
      file.seekSync(0, Deno.SeekMode.Start);
      const n = file.readSync(buffer) ?? 0;
      return parseField(buffer, n, 1) / 1e6;
    };
    if (!Number.isFinite(read())) {
      file.close();
      return { off: "no run-queue wait in /proc/thread-self/schedstat" };
    }
    return Object.assign(read, {
      close() {
        if (open) file.close();
        open = false;
      },
    });
  } catch (error) {
    return { off: `no schedstat (${error instanceof Error ? error.message : error})` };
  }
}

/** The `index`th space-separated decimal field of the first `n` bytes (NaN if absent), without a string. */
export function parseField(bytes: Uint8Array, n: number, index: number): number {
  let field = 0, value = 0, digits = 0;
  for (let i = 0; i < n; i++) {
    const c = bytes[i];
    if (c >= 48 && c <= 57) {
      if (field === index) {
        value = value * 10 + (c - 48);
        digits++;
      }
    } else {
      if (field === index && digits > 0) return value;
      if (c === 32) field++;
    }
  }
  return field === index && digits > 0 ? value : NaN;
}
