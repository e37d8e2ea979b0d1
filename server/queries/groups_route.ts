import { gzipSync } from "node:zlib";
import { errorResponse } from "../http/errors.ts";

/** Answers this large or larger are gzipped for clients that take it. */
const GZIP_FROM_BYTES = 16 * 1024;
/** Viewer scopes whose answers are kept at once; past it the cache starts over. */
const MAX_SCOPES = 256;

interface Answer {
  at: number;
  json: Promise<Uint8Array<ArrayBuffer>>;
  gzip: Promise<Uint8Array<ArrayBuffer>> | null;
}

/**
 * GET /api/groups: every group (within the viewer's scope) with its sensors
 * and attention counts. Every dashboard polls it, and a fleet of many sites
 * has tens of thousands of groups (a megabyte of JSON, tens of ms to make):
 * so an answer is made at most once per `maxAgeMs` per scope and shared by
 * every viewer with that scope, and gzipped once, when large, for clients
 * that take gzip.
 */
export function groupsRoute(deps: {
  scope: (request: Request) => Promise<string[] | null>;
  groups: (scope: string[] | null) => Promise<unknown[]>;
  now: () => number;
  maxAgeMs?: number;
}): (request: Request) => Promise<Response> {
  const maxAgeMs = deps.maxAgeMs ?? 1_000;
  const answers = new Map<string, Answer>();
  const encoder = new TextEncoder();
  return async (request) => {
    try {
      const scope = await deps.scope(request);
      const key = scope === null ? "" : JSON.stringify(scope);
      const now = deps.now();
      let answer = answers.get(key);
      if (!answer || now - answer.at >= maxAgeMs) {
        // Answers of scopes no one asked for lately go (a large one is a megabyte).
        for (const [k, old] of answers) if (now - old.at >= 60 * maxAgeMs) answers.delete(k);
        if (answers.size >= MAX_SCOPES) answers.clear();
        const json = deps.groups(scope).then((groups) =>
          encoder.encode(JSON.stringify({ groups }))
        );
        answers.set(key, answer = { at: now, json, gzip: null });
        // A failed answer is not kept: the next request asks again.
        json.catch(() => answers.get(key) === answer && answers.delete(key));
      }
      const json = await answer.json;
      const headers: Record<string, string> = {
        "content-type": "application/json; charset=utf-8",
        vary: "accept-encoding",
      };
      if (json.byteLength >= GZIP_FROM_BYTES && acceptsGzip(request)) {
        answer.gzip ??= answer.json.then((bytes) => new Uint8Array(gzipSync(bytes, { level: 1 })));
        headers["content-encoding"] = "gzip";
        return new Response(await answer.gzip, { headers });
      }
      return new Response(json, { headers });
    } catch (error) {
      return errorResponse(error);
    }
  };
}

/** Whether Accept-Encoding takes gzip: named with q > 0, or `*` with q > 0 when gzip is not named. */
function acceptsGzip(request: Request): boolean {
  const weights = new Map<string, number>();
  for (const part of (request.headers.get("accept-encoding") ?? "").split(",")) {
    const [coding, ...params] = part.split(";").map((p) => p.trim().toLowerCase());
    const q = params.map((p) => /^q\s*=\s*([0-9.]+)$/.exec(p)?.[1]).find((v) => v !== undefined);
    if (coding) weights.set(coding, q === undefined ? 1 : Number(q));
  }
  return (weights.get("gzip") ?? weights.get("*") ?? 0) > 0;
}
