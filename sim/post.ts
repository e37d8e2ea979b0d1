import type { Body } from "./batch_encoder.ts";

/** One reading the server refused, as `POST /api/ingest` reports it. */
export interface Refusal {
  index: number;
  reason: string;
}

export type PostResult =
  | { ok: true; accepted: number; refused: Refusal[] }
  | { ok: false; cause: string; retry: boolean; retryAfterMs?: number };

export interface PostOptions {
  /** Sent as `Authorization: Bearer <key>` when the server requires ingest keys. */
  apiKey?: string;
  /** Aborts the request (the hard stop). */
  signal: AbortSignal;
  /** Longest wait for an answer. */
  timeoutMs: number;
}

/**
 * Posts one body and classifies the outcome. Never throws. Only failures
 * where the server surely stored nothing are marked `retry`: connection
 * refused, 429 and 503. A timeout or a dropped connection may have been
 * stored, so retrying could store it twice.
 */
export async function postBatch(
  endpoint: URL,
  body: Body,
  options: PostOptions,
): Promise<PostResult> {
  const headers: Record<string, string> = { "content-type": body.contentType };
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
  let response: Response;
  try {
    response = await fetch(endpoint, {
      method: "POST",
      body: body.bytes,
      headers,
      signal: AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)]),
    });
  } catch (error) {
    return { ok: false, ...classifyFetchError(error, options.signal) };
  }
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    return { ok: false, ...classifyFetchError(error, options.signal) };
  }
  return answerResult(
    response.status,
    response.statusText,
    response.headers.get("retry-after"),
    text,
  );
}

/**
 * An answer of `POST /api/ingest` as a result: only 429 and 503 are marked
 * `retry` (the server surely stored nothing).
 */
export function answerResult(
  status: number,
  statusText: string,
  retryAfter: string | null,
  text: string,
): PostResult {
  if (status < 200 || status > 299) {
    const retry = status === 429 || status === 503;
    const seconds = Number(retryAfter);
    return {
      ok: false,
      cause: `${status} ${errorDetail(text, statusText)}`,
      retry,
      retryAfterMs: seconds > 0 ? Math.min(seconds, 10) * 1000 : undefined,
    };
  }
  try {
    const parsed = JSON.parse(text) as { accepted?: unknown; refused?: unknown };
    if (typeof parsed.accepted !== "number" || !Array.isArray(parsed.refused)) {
      throw new TypeError("no accepted/refused");
    }
    return { ok: true, accepted: parsed.accepted, refused: parsed.refused as Refusal[] };
  } catch {
    return { ok: false, cause: `unexpected answer: ${text.slice(0, 80)}`, retry: false };
  }
}

function classifyFetchError(error: unknown, hard: AbortSignal): { cause: string; retry: boolean } {
  if (hard.aborted) return { cause: "interrupted at stop (outcome unknown)", retry: false };
  if (error instanceof DOMException && error.name === "TimeoutError") {
    return { cause: "timed out (outcome unknown)", retry: false };
  }
  const text = `${error instanceof Error ? error.message : error} ${
    error instanceof Error && error.cause ? String(error.cause) : ""
  }`;
  if (/connection refused|os error 111|ECONNREFUSED/i.test(text)) {
    return { cause: "connection refused", retry: true };
  }
  return { cause: `request failed: ${text.trim().slice(0, 120)}`, retry: false };
}

/** The server answers errors as `{ error, detail }`; show the detail. */
function errorDetail(text: string, statusText: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: unknown; detail?: unknown };
    if (typeof parsed.detail === "string") return parsed.detail.slice(0, 160);
  } catch {
    // not JSON: show the text itself
  }
  return (text.trim() || statusText).slice(0, 160);
}
