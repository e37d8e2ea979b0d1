import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { fixMmapThreshold } from "./mmap_threshold.ts";

const linux = Deno.build.os === "linux";

Deno.test({
  name:
    "with the mmap threshold fixed, a 16 MiB allocation after a 24 MiB one is freed is still a mapping of its own (glibc would have raised the threshold to 24 MiB and grown the heap)",
  ignore: !linux,
  fn() {
    assertEquals(fixMmapThreshold(), { off: null });
    const libc = Deno.dlopen("libc.so.6", {
      malloc: { parameters: ["usize"], result: "pointer" },
      free: { parameters: ["pointer"], result: "void" },
      // struct mallinfo2: ten size_t fields; the fourth (hblks) counts mapped chunks.
      mallinfo2: { parameters: [], result: { struct: Array(10).fill("usize") } },
    });
    try {
      const mapped = () => new BigUint64Array(libc.symbols.mallinfo2().buffer)[3];
      // Larger than any free space the heap keeps on top, so the heap cannot serve it as it is.
      const large = libc.symbols.malloc(24n << 20n);
      assert(large !== null, "24 MiB allocated");
      libc.symbols.free(large);
      const before = mapped();
      const small = libc.symbols.malloc(16n << 20n);
      assert(small !== null, "16 MiB allocated");
      const after = mapped();
      libc.symbols.free(small);
      assertEquals(after - before, 1n, "one more mapped chunk");
    } finally {
      libc.close();
    }
  },
});
