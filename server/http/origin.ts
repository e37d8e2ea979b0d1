import type { AllowedHosts } from "./allowed_hosts.ts";
import { problem } from "./errors.ts";

/**
 * Whether a request's Origin may use this server. With an allow-list the
 * match is exact. Without one, only the server's own origins are allowed:
 * its scheme with a host it answers to (`AllowedHosts`, never the request's
 * Host, which a DNS-rebinding page controls), so a page on another site
 * cannot open the feed in a visitor's browser. Requests without an Origin
 * header (not from a browser page) are allowed.
 */
export function originAllowed(
  request: Request,
  policy: { allowList: readonly string[] | null; hosts: AllowedHosts },
): boolean {
  const origin = request.headers.get("origin");
  if (origin === null) return true;
  if (policy.allowList !== null) return policy.allowList.includes(origin);
  return policy.hosts.isOwnOrigin(origin);
}

/**
 * Adds CORS headers for an allowed origin to an API response. Without an
 * allow-list nothing is added, and browsers keep other sites from reading it.
 */
export function withCors(
  request: Request,
  response: Response,
  allowList: readonly string[] | null,
): Response {
  const origin = request.headers.get("origin");
  if (origin === null || allowList === null || !allowList.includes(origin)) return response;
  const headers = new Headers(response.headers);
  headers.set("access-control-allow-origin", origin);
  // Idempotent ingest: a page may see that an answer was replayed, and when to retry.
  headers.set("access-control-expose-headers", "idempotent-replayed, retry-after");
  headers.append("vary", "Origin");
  return new Response(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers,
  });
}

/** Answers a CORS preflight for the API. */
export function preflight(request: Request, allowList: readonly string[] | null): Response {
  const origin = request.headers.get("origin");
  if (origin === null || allowList === null || !allowList.includes(origin)) {
    return problem(403, `Origin ${origin} may not call the API (see --cors-origins)`);
  }
  return new Response(null, {
    status: 204,
    headers: {
      "access-control-allow-origin": origin,
      "access-control-allow-methods": "GET, POST",
      "access-control-allow-headers": "content-type, authorization, idempotency-key",
      "access-control-max-age": "600",
      vary: "Origin",
    },
  });
}
