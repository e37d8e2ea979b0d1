// Writes `<file>.br` and `<file>.gz` beside each compressible file of the
// built dashboard, once at build time, so the server never compresses per
// request (server/http/static_files.ts picks the variant the browser accepts).
import { Buffer } from "node:buffer";
import zlib from "node:zlib";

/** Text formats worth compressing; images and fonts are compressed already. */
export const COMPRESSIBLE = [".js", ".css", ".html", ".svg", ".json", ".webmanifest", ".txt"];
/** Smaller files gain less than their headers cost. */
const MIN_BYTES = 1024;

export interface PrecompressResult {
  files: number;
  bytes: number;
  brotliBytes: number;
  gzipBytes: number;
}

/** Compresses every compressible file under `dir` (recursively); a variant not smaller is not kept. */
export async function precompress(dir: string): Promise<PrecompressResult> {
  const result: PrecompressResult = { files: 0, bytes: 0, brotliBytes: 0, gzipBytes: 0 };
  for (const path of await compressibleFiles(dir)) {
    const data = await Deno.readFile(path);
    if (data.byteLength < MIN_BYTES) continue;
    const br = zlib.brotliCompressSync(Buffer.from(data), {
      params: {
        [zlib.constants.BROTLI_PARAM_QUALITY]: zlib.constants.BROTLI_MAX_QUALITY,
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.byteLength,
      },
    });
    const gz = zlib.gzipSync(Buffer.from(data), { level: zlib.constants.Z_BEST_COMPRESSION });
    result.files++;
    result.bytes += data.byteLength;
    result.brotliBytes += await keepIfSmaller(`${path}.br`, br, data.byteLength);
    result.gzipBytes += await keepIfSmaller(`${path}.gz`, gz, data.byteLength);
  }
  return result;
}

async function keepIfSmaller(path: string, bytes: Uint8Array, original: number): Promise<number> {
  if (bytes.byteLength >= original) {
    await Deno.remove(path).catch(() => {});
    return original;
  }
  await Deno.writeFile(path, bytes);
  return bytes.byteLength;
}

async function compressibleFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) found.push(...await compressibleFiles(path));
    else if (entry.isFile && COMPRESSIBLE.some((ext) => entry.name.endsWith(ext))) {
      found.push(path);
    }
  }
  return found;
}
