// Gives a spent buffer's memory back to the system without detaching it.
//
// A checkpoint's shard pages (~65 MB at 100,000 sensors, made at once) are
// dead once Deno KV has committed their pieces. `transfer(0)` freed them at
// once, but detaching an ArrayBuffer invalidates V8's ArrayBufferDetaching
// protector for the life of the process: from the first checkpoint on, every
// optimized function that reads a typed array's length checks for detachment
// (about 180 of them were deoptimized). madvise(MADV_DONTNEED) over the
// buffer's whole pages instead drops them from RSS now and leaves the buffer
// attached (it reads as zeros) until V8 collects it, as any other.

/** Drops `buffer`'s memory from RSS now; it must not be read afterwards. */
export type ReleasePages = (buffer: ArrayBuffer) => void;

const MADV_DONTNEED = 4;
const SC_PAGESIZE = 30;

/**
 * madvise(MADV_DONTNEED) over the whole pages inside `buffer` (Linux, glibc);
 * `transfer(0)` where that cannot be had. The bytes before the first page
 * boundary and after the last stay resident (at most two pages a buffer);
 * the allocator's own headers lie outside the buffer and are never touched.
 */
export function pageRelease(): ReleasePages {
  if (Deno.build.os !== "linux") return detach;
  let libc;
  try {
    libc = Deno.dlopen("libc.so.6", {
      madvise: { parameters: ["pointer", "usize", "i32"], result: "i32" },
      sysconf: { parameters: ["i32"], result: "i64" },
    });
  } catch {
    return detach;
  }
  // Open for the process's life: a checkpoint may be saved at any time.
  const { madvise, sysconf } = libc.symbols;
  const page = BigInt(sysconf(SC_PAGESIZE));
  if (page <= 0n) return detach;
  return (buffer) => {
    if (buffer.byteLength < page) return; // no whole page in it
    const at = Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer));
    const start = (BigInt(at) + page - 1n) / page * page;
    const end = (BigInt(at) + BigInt(buffer.byteLength)) / page * page;
    if (end <= start) return;
    madvise(Deno.UnsafePointer.create(start), end - start, MADV_DONTNEED);
  };
}

/** Frees the bytes by detaching the buffer (where madvise is not available). */
function detach(buffer: ArrayBuffer): void {
  buffer.transfer(0);
}
