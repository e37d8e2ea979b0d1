/**
 * Whether a request's Origin may use this server. With an allow-list the
 * match is exact. Without one, only the server's own origin is allowed, so a
 * page on another site cannot open the feed in a visitor's browser. Requests
 * without an Origin header (not from a browser page) are allowed.
 */
export function originAllowed(request: Request, allowList: readonly string[] | null): boolean {
  const origin = request.headers.get("origin");
  if (origin === null) return true;
  if (allowList !== null) return allowList.includes(origin);
  const host = request.headers.get("host");
  if (host === null) return false;
  const scheme = new URL(request.url).protocol; // "http:" or "https:"
  return origin === `${scheme}//${host}`;
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
    return new Response(null, { status: 403 });
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
