import { CloseCode } from "../protocol/close_codes.ts";
import { logger } from "../logging/mod.ts";

/**
 * The one place where errors become HTTP statuses and WebSocket close codes.
 * Code throws built-in classes with a message that says what went wrong.
 */
export function statusFor(error: unknown): number {
  if (error instanceof Deno.errors.NotFound) return 404;
  if (error instanceof Deno.errors.PermissionDenied) return 401;
  if (error instanceof Deno.errors.Busy) return 503;
  if (error instanceof Deno.errors.NotSupported) return 415;
  if (error instanceof Deno.errors.TimedOut) return 408;
  // The client's connection ended mid-request; nobody reads the answer.
  if (error instanceof Deno.errors.ConnectionAborted) return 400;
  if (error instanceof TypeError || error instanceof SyntaxError || error instanceof RangeError) {
    return 400;
  }
  return 500;
}

export function closeCodeFor(error: unknown): number {
  if (error instanceof TypeError || error instanceof SyntaxError || error instanceof RangeError) {
    return CloseCode.BadFrame;
  }
  return 1011; // internal error
}

/** A JSON error body `{ error, detail }` with the mapped status. */
export function errorResponse(error: unknown): Response {
  const status = statusFor(error);
  const detail = status === 500
    ? "internal error"
    : error instanceof Error
    ? error.message
    : String(error);
  if (status === 500) logger.error("request failed", { error });
  return jsonResponse({ error: errorName(status), detail }, {
    status,
    headers: status === 503
      ? { "retry-after": "1" }
      : status === 401
      ? { "www-authenticate": 'Bearer realm="pulseboard"' }
      : status === 408
      ? { connection: "close" } // the rest of the request never came: the connection is done
      : {},
  });
}

/** Shortcut for an error response with an explicit status. */
export function problem(status: number, detail: string, headers: HeadersInit = {}): Response {
  return jsonResponse({ error: errorName(status), detail }, { status, headers });
}

export function jsonResponse(body: unknown, init: ResponseInit = {}): Response {
  const headers = new Headers(init.headers);
  headers.set("content-type", "application/json; charset=utf-8");
  return new Response(JSON.stringify(body), { ...init, headers });
}

function errorName(status: number): string {
  switch (status) {
    case 400:
      return "bad_request";
    case 401:
      return "unauthorized";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 408:
      return "request_timeout";
    case 409:
      return "conflict";
    case 413:
      return "payload_too_large";
    case 415:
      return "unsupported_media_type";
    case 422:
      return "unprocessable_entity";
    case 426:
      return "upgrade_required";
    case 503:
      return "unavailable";
    default:
      return status >= 500 ? "internal" : "error";
  }
}
