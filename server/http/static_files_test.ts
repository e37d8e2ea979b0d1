import { assertEquals } from "../../tests/testing/assert.ts";
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
