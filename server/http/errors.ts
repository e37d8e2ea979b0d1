import { STATUS_CODES } from "node:http";
import { CloseCode } from "../../protocol/close_codes.ts";
import { logger } from "../ops/logger.ts";
import { wholeResponse } from "./whole_body.ts";

const utf8 = new TextEncoder();

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
  if (error instanceof TypeError || error instanceof SyntaxError || error instanceof RangeError) {
    return 400;
  }
  // A body the client framed badly, or stopped sending: its fault, not ours.
  if (error instanceof Deno.errors.InvalidData || error instanceof Deno.errors.ConnectionAborted) {
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
  // Client faults are logged without a stack: nothing in this server to debug.
  else if (error instanceof Deno.errors.ConnectionAborted) {
    logger.debug("request abandoned by the client", { detail });
  } else if (error instanceof Deno.errors.InvalidData) {
    logger.warn("malformed request", { detail });
  } else if (error instanceof Deno.errors.TimedOut) {
    logger.warn("request timed out", { detail });
  }
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
  return wholeResponse(utf8.encode(JSON.stringify(body)), { ...init, headers });
}

/** The `error` of a problem body: a stable snake_case name per status. */
function errorName(status: number): string {
  // Names clients already know, kept as they were.
  if (status === 500) return "internal";
  if (status === 503) return "unavailable";
  const text = STATUS_CODES[status];
  if (text === undefined) return status >= 500 ? "server_error" : "client_error";
  return text.toLowerCase().replace(/[^a-z]+/g, "_").replace(/^_|_$/g, "");
}
