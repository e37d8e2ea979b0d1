import Negotiator from "negotiator";
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

/** Precompressed variants the build writes beside a file (scripts/precompress.ts), best first. */
const ENCODINGS = [
  { name: "br", suffix: ".br" },
  { name: "gzip", suffix: ".gz" },
] as const;
const OFFERED = [...ENCODINGS.map((e) => e.name), "identity"];

/**
 * Serves the built dashboard. Paths are decoded, refused if they hold `..`,
 * NUL or backslashes, and the resolved file must lie under `root` (symlinks
 * included). Unknown paths without an extension get index.html (SPA). A file
 * with a precompressed `.br` or `.gz` beside it is sent in the encoding the
 * browser accepts (Accept-Encoding, q-values honoured); hashed files under
 * `_app/immutable/` are cached for a year.
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
      "cache-control": relative.startsWith("_app/immutable/")
        ? "public, max-age=31536000, immutable"
        : "no-cache",
      "x-content-type-options": "nosniff",
    });
    let body = file;
    const variants = await compressedVariants(file.path);
    if (variants.length > 0) {
      headers.set("vary", "Accept-Encoding");
      const accepted = new Negotiator({
        headers: { "accept-encoding": request.headers.get("accept-encoding") ?? undefined },
      }).encoding(OFFERED, { preferred: OFFERED });
      const variant = variants.find((v) => v.name === accepted);
      const compressed = variant ? await openPath(file.path + variant.suffix) : null;
      if (variant && compressed) {
        file.handle.close();
        body = compressed;
        headers.set("content-encoding", variant.name);
      }
    }
    headers.set("content-length", String(body.size));
    if (request.method === "HEAD") {
      body.handle.close();
      return new Response(null, { headers });
    }
    return new Response(body.handle.readable, { headers });
  };
}

interface OpenFile {
  handle: Deno.FsFile;
  size: number;
  path: string;
}

async function open(realBase: string, relative: string): Promise<OpenFile | null> {
  try {
    const real = await Deno.realPath(realBase + relative);
    if (!real.startsWith(realBase)) return null;
    return await openPath(real);
  } catch {
    return null;
  }
}

/** Opens a regular file (the caller has checked it lies under the root). */
async function openPath(path: string): Promise<OpenFile | null> {
  try {
    const handle = await Deno.open(path, { read: true });
    const info = await handle.stat();
    if (!info.isFile) {
      handle.close();
      return null;
    }
    return { handle, size: info.size, path };
  } catch {
    return null;
  }
}

/** The precompressed variants that lie beside `path` (regular files, not links out of the root). */
async function compressedVariants(path: string): Promise<(typeof ENCODINGS)[number][]> {
  const found = await Promise.all(ENCODINGS.map(async (e) => {
    const info = await Deno.lstat(path + e.suffix).catch(() => null);
    return info?.isFile ? e : null;
  }));
  return found.filter((e) => e !== null);
}

function extension(path: string): string {
  const dot = path.lastIndexOf(".");
  return dot < 0 ? "" : path.slice(dot).toLowerCase();
}
