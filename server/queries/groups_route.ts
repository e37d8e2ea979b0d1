import { gzipSync } from "node:zlib";
import { errorResponse } from "../http/errors.ts";
import { singleValuedQuery } from "../http/query_params.ts";
import { groupsPage, groupsPageQuery } from "./groups_page.ts";

/** Answers this large or larger are gzipped for clients that take it. */
const GZIP_FROM_BYTES = 16 * 1024;
/** Viewer scopes whose answers are kept at once; past it the cache starts over. */
const MAX_SCOPES = 256;

/** An encoded page, and its gzip once asked for. */
interface Page {
  json: Promise<Uint8Array<ArrayBuffer>>;
  gzip: Promise<Uint8Array<ArrayBuffer>> | null;
}

/** A scope's groups as the hub listed them at `at`, and the pages made of them. */
interface Answer {
  at: number;
  groups: Promise<readonly { group: string }[]>;
  pages: Map<string, Page>;
}

/** Pages kept per scope and listing; past it they start over. */
const MAX_PAGES = 64;

/**
 * GET /api/groups?limit=&cursor=: the groups (within the viewer's scope)
 * with their sensors and attention counts, by path, at most `limit` a page
 * (`groups_page.ts`: default and most 10,000, so no answer grows with the
 * fleet) with `nextCursor` to the next. Every dashboard polls it, and a
 * fleet of many sites has tens of thousands of groups (a megabyte of JSON,
 * tens of ms to make): so the hub is asked at most once per `maxAgeMs` per
 * scope, its listing shared by every viewer with that scope, each page of
 * it encoded once, and gzipped once, when large, for clients that take gzip.
 */
export function groupsRoute(deps: {
  scope: (request: Request) => Promise<string[] | null>;
  groups: (scope: string[] | null) => Promise<readonly { group: string }[]>;
  now: () => number;
  maxAgeMs?: number;
}): (request: Request) => Promise<Response> {
  const maxAgeMs = deps.maxAgeMs ?? 1_000;
  const answers = new Map<string, Answer>();
  const encoder = new TextEncoder();
  return async (request) => {
    try {
      const scope = await deps.scope(request);
      const query = groupsPageQuery(singleValuedQuery(request.url));
      const key = scope === null ? "" : JSON.stringify(scope);
      const now = deps.now();
      let answer = answers.get(key);
      if (!answer || now - answer.at >= maxAgeMs) {
        // Answers of scopes no one asked for lately go (a large one is a megabyte).
        for (const [k, old] of answers) if (now - old.at >= 60 * maxAgeMs) answers.delete(k);
        if (answers.size >= MAX_SCOPES) answers.clear();
        const groups = deps.groups(scope);
        answers.set(key, answer = { at: now, groups, pages: new Map() });
        // A failed answer is not kept: the next request asks again.
        groups.catch(() => answers.get(key) === answer && answers.delete(key));
      }
      const pageKey = `${query.limit} ${query.after === null ? "" : "+" + query.after}`;
      let page = answer.pages.get(pageKey);
      if (!page) {
        if (answer.pages.size >= MAX_PAGES) answer.pages.clear();
        const json = answer.groups.then((groups) =>
          encoder.encode(JSON.stringify(groupsPage(groups, query)))
        );
        answer.pages.set(pageKey, page = { json, gzip: null });
      }
      const json = await page.json;
      const headers: Record<string, string> = {
        "content-type": "application/json; charset=utf-8",
        vary: "accept-encoding",
      };
      if (json.byteLength >= GZIP_FROM_BYTES && acceptsGzip(request)) {
        const zipping = page;
        zipping.gzip ??= zipping.json.then((bytes) =>
          new Uint8Array(gzipSync(bytes, { level: 1 }))
        );
        headers["content-encoding"] = "gzip";
        return new Response(await zipping.gzip, { headers });
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
