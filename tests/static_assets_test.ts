// The built dashboard as a browser fetches it from a real server: every
// script and stylesheet the page loads comes precompressed (brotli when
// accepted), decodes to the very bytes of the plain file, and hashed files
// are cached for a year. Needs the build (`deno task test` builds it first).
import { Buffer } from "node:buffer";
import { request } from "node:http";
import zlib from "node:zlib";
import { assert, assertEquals } from "./testing/assert.ts";
import { startPulseboard } from "../server/pulseboard.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";

Deno.test("the dashboard's scripts and styles are served precompressed and cached when hashed", async () => {
  const server = await startPulseboard({ ...DEFAULT_CONFIG, port: 0, data: ":memory:" });
  try {
    const page = await fetch(new URL("/", server.url), {
      headers: { "accept-encoding": "gzip, deflate, br, zstd" },
    });
    const html = await page.text(); // fetch decodes what it asked for
    // Every script and stylesheet the page names: preloads, the inline entry's imports.
    const unique = [
      ...new Set([...html.matchAll(/_app\/[^"'\s]+\.(?:js|css)/g)].map((m) => `/${m[0]}`)),
    ];
    assert(unique.some((a) => a.endsWith(".js")), `the page loads scripts: ${unique}`);
    let plainBytes = 0;
    let sentBytes = 0;
    for (const asset of unique) {
      const url = new URL(asset, server.url);
      // A raw request (no automatic decoding) so the bytes on the wire can be checked.
      const compressed = await rawGet(url, "gzip, deflate, br");
      const plain = await rawGet(url, null);
      assertEquals(plain.encoding, null, `${asset} without Accept-Encoding`);
      if (plain.body.byteLength < 1024) continue; // too small to be worth compressing
      assertEquals(compressed.encoding, "br", `${asset} is sent as brotli`);
      assertEquals(compressed.vary, "Accept-Encoding");
      assertEquals(
        new Uint8Array(zlib.brotliDecompressSync(Buffer.from(compressed.body))),
        plain.body,
        `${asset} decodes to the plain file`,
      );
      if (asset.startsWith("/_app/immutable/")) {
        assertEquals(compressed.cache, "public, max-age=31536000, immutable");
      }
      plainBytes += plain.body.byteLength;
      sentBytes += compressed.body.byteLength;
    }
    assert(plainBytes > 0 && sentBytes < plainBytes / 2, `${sentBytes} of ${plainBytes} bytes`);
  } finally {
    await server.shutdown();
    await server.finished;
  }
});

async function rawGet(url: URL, acceptEncoding: string | null) {
  // Deno's fetch adds Accept-Encoding and decodes; node:http does neither.
  return await new Promise<
    { encoding: string | null; vary: string | null; cache: string | null; body: Uint8Array }
  >((resolve, reject) => {
    const req = request(url, {
      headers: acceptEncoding === null ? {} : { "accept-encoding": acceptEncoding },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({
          encoding: (res.headers["content-encoding"] as string | undefined) ?? null,
          vary: (res.headers["vary"] as string | undefined) ?? null,
          cache: (res.headers["cache-control"] as string | undefined) ?? null,
          body: new Uint8Array(Buffer.concat(chunks)),
        }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}
