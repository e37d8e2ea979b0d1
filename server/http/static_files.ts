import { problem } from "./errors.ts";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".webmanifest": "application/manifest+json",
  ".txt": "text/plain; charset=utf-8",
  ".woff2": "font/woff2",
};

/**
 * Serves the built dashboard. Paths are decoded, refused if they hold `..`,
 * NUL or backslashes, and the resolved file must lie under `root` (symlinks
 * included). Unknown paths without an extension get index.html (SPA).
 */
export function staticFiles(root: string) {
  const base = root.endsWith("/") ? root : root + "/";
  let realBase: string | null = null;
  return async (request: Request): Promise<Response> => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return problem(405, "Only GET and HEAD are served here", { allow: "GET, HEAD" });
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(request.url).pathname);
    } catch {
      return problem(400, "Path is not valid percent-encoding");
    }
    if (path.includes("\0") || path.includes("\\") || path.split("/").includes("..")) {
      return problem(400, "Path may not contain .., NUL or backslashes");
    }
    realBase ??= await Deno.realPath(base).then((p) => p + "/").catch(() => null);
    if (realBase === null) {
      return problem(503, "The dashboard is not built: run `deno task build:web`");
    }
    const relative = path.replace(/^\/+/, "") || "index.html";
    const file = await open(realBase, relative) ??
      (/\.[a-z0-9]+$/i.test(relative) ? null : await open(realBase, "index.html"));
    if (!file) return problem(404, `No file at ${path}`);
    const headers = new Headers({
      "content-type": TYPES[extension(file.path)] ?? "application/octet-stream",
      "content-length": String(file.size),
      "cache-control": relative.startsWith("_app/immutable/")
        ? "public, max-age=31536000, immutable"
        : "no-cache",
      "x-content-type-options": "nosniff",
    });
    if (request.method === "HEAD") {
      file.handle.close();
      return new Response(null, { headers });
    }
    return new Response(file.handle.readable, { headers });
  };
}

async function open(
  realBase: string,
  relative: string,
): Promise<{ handle: Deno.FsFile; size: number; path: string } | null> {
  try {
    const real = await Deno.realPath(realBase + relative);
    if (!real.startsWith(realBase)) return null;
    const handle = await Deno.open(real, { read: true });
    const info = await handle.stat();
    if (!info.isFile) {
      handle.close();
      return null;
    }
    return { handle, size: info.size, path: real };
  } catch {
    return null;
  }
}

function extension(path: string): string {
  const dot = path.lastIndexOf(".");
  return dot < 0 ? "" : path.slice(dot).toLowerCase();
}
