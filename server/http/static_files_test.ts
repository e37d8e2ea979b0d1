import { Buffer } from "node:buffer";
import zlib from "node:zlib";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { staticFiles } from "./static_files.ts";

Deno.test("static files: content types, SPA fallback, 404 for missing assets, traversal refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-static-" });
  const outside = await Deno.makeTempDir({ prefix: "pulseboard-outside-" });
  try {
    await Deno.mkdir(`${dir}/root/_app/immutable`, { recursive: true });
    await Deno.writeTextFile(`${dir}/root/index.html`, "<html>app</html>");
    await Deno.writeTextFile(`${dir}/root/_app/immutable/app.js`, "console.log(1)");
    await Deno.writeTextFile(`${dir}/secret.txt`, "TOP-SECRET-CONTENT");
    await Deno.writeTextFile(`${outside}/passwd.txt`, "root:x");
    await Deno.symlink(outside, `${dir}/root/link`);
    const serve = staticFiles(`${dir}/root`);
    const get = async (path: string) => {
      const response = await serve(new Request(`http://host${path}`));
      return {
        status: response.status,
        type: response.headers.get("content-type"),
        body: await response.text(),
        cache: response.headers.get("cache-control"),
      };
    };
    const index = await get("/");
    assertEquals([index.status, index.type, index.body], [
      200,
      "text/html; charset=utf-8",
      "<html>app</html>",
    ]);
    const js = await get("/_app/immutable/app.js");
    assertEquals([js.status, js.type, js.cache], [
      200,
      "text/javascript; charset=utf-8",
      "public, max-age=31536000, immutable",
    ]);
    assertEquals((await get("/some/page")).body, "<html>app</html>", "SPA fallback");
    assertEquals((await get("/missing.js")).status, 404);
    for (
      const path of [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/_app/%2e%2e/%2e%2e/secret.txt",
        "/..%5csecret.txt",
        "/index.html%00.js",
      ]
    ) {
      const response = await get(path);
      assertEquals(response.body.includes("TOP-SECRET-CONTENT"), false, path);
      assertEquals(
        response.status === 400 || response.status === 404,
        true,
        `${path}: ${response.status}`,
      );
    }
    const linked = await get("/link/passwd.txt");
    assertEquals(
      [linked.status, linked.body.includes("root:x")],
      [404, false],
      "symlink out of the root",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("static files: a precompressed variant is sent in the encoding the browser accepts, identity otherwise", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-static-enc-" });
  try {
    const text = "export const answer = 42;\n".repeat(200);
    const plain = new TextEncoder().encode(text);
    await Deno.mkdir(`${dir}/_app/immutable`, { recursive: true });
    const js = `${dir}/_app/immutable/app.js`;
    await Deno.writeFile(js, plain);
    await Deno.writeFile(`${js}.br`, zlib.brotliCompressSync(Buffer.from(plain)));
    await Deno.writeFile(`${js}.gz`, zlib.gzipSync(Buffer.from(plain)));
    await Deno.writeTextFile(`${dir}/plain.css`, "body{}");
    const serve = staticFiles(dir);
    const get = async (path: string, acceptEncoding: string | null) => {
      const headers = acceptEncoding === null ? undefined : { "accept-encoding": acceptEncoding };
      const response = await serve(new Request(`http://host${path}`, { headers }));
      const body = new Uint8Array(await response.arrayBuffer());
      const encoding = response.headers.get("content-encoding");
      const decoded = encoding === "br"
        ? zlib.brotliDecompressSync(body)
        : encoding === "gzip"
        ? zlib.gunzipSync(body)
        : body;
      return {
        encoding,
        vary: response.headers.get("vary"),
        length: Number(response.headers.get("content-length")),
        sent: body.byteLength,
        text: new TextDecoder().decode(decoded),
      };
    };
    const cases: [string | null, string | null][] = [
      ["gzip, deflate, br, zstd", "br"], // a browser's header: brotli is preferred
      ["gzip", "gzip"],
      ["br;q=0, gzip;q=0.5", "gzip"],
      ["deflate", null],
      [null, null],
      ["*", "br"],
    ];
    for (const [accept, expected] of cases) {
      const got = await get("/_app/immutable/app.js", accept);
      assertEquals(got.encoding, expected, `Accept-Encoding: ${accept}`);
      assertEquals(got.text, text, `the same script, decoded (${accept})`);
      assertEquals(got.length, got.sent, "content-length is the bytes sent");
      assertEquals(got.vary, "Accept-Encoding");
      if (expected) assert(got.sent < plain.byteLength / 10, `${expected} is smaller`);
    }
    const css = await get("/plain.css", "br");
    assertEquals([css.encoding, css.vary, css.text], [null, null, "body{}"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
