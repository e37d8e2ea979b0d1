import { Buffer } from "node:buffer";
import zlib from "node:zlib";
import { assert, assertEquals } from "../tests/testing/assert.ts";
import { precompress } from "./precompress.ts";

Deno.test("precompress writes brotli and gzip variants that decode to each text file, and skips small, binary and incompressible ones", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-precompress-" });
  try {
    await Deno.mkdir(`${dir}/_app/immutable`, { recursive: true });
    const js = "function f(x) { return x * 2; }\n".repeat(500);
    await Deno.writeTextFile(`${dir}/_app/immutable/app.js`, js);
    await Deno.writeTextFile(`${dir}/index.html`, "<!doctype html>".repeat(100));
    await Deno.writeTextFile(`${dir}/tiny.css`, "a{}");
    await Deno.writeFile(`${dir}/logo.png`, new Uint8Array(4096).fill(7));
    const noise = crypto.getRandomValues(new Uint8Array(4096));
    await Deno.writeFile(`${dir}/noise.txt`, noise);
    const result = await precompress(dir);
    const exists = (path: string) => Deno.stat(path).then(() => true, () => false);
    for (const path of [`${dir}/_app/immutable/app.js`, `${dir}/index.html`]) {
      const original = await Deno.readFile(path);
      const br = await Deno.readFile(`${path}.br`);
      const gz = await Deno.readFile(`${path}.gz`);
      assertEquals(new Uint8Array(zlib.brotliDecompressSync(Buffer.from(br))), original);
      assertEquals(new Uint8Array(zlib.gunzipSync(Buffer.from(gz))), original);
      assert(br.byteLength < original.byteLength / 5, `${path}.br is small`);
    }
    assertEquals(await exists(`${dir}/tiny.css.br`), false, "under 1 KiB: not worth it");
    assertEquals(await exists(`${dir}/logo.png.br`), false, "images are not compressed");
    assertEquals(await exists(`${dir}/noise.txt.br`), false, "no gain: not kept");
    assertEquals(await exists(`${dir}/noise.txt.gz`), false, "no gain: not kept");
    assertEquals(result.files, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
