// Idempotent ingest, the pure part: which key a batch carries, and what
// makes two bodies "the same".

/** Longest idempotency key or batch id, in characters. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 128;

// Visible ASCII only: no spaces or control characters, so a key reads the
// same in a header, a URL path and a log line.
const KEY = /^[\x21-\x7e]+$/;

/**
 * Returns `key` if it is a valid idempotency key; otherwise throws a
 * TypeError (400) whose message starts with `doing` ("Cannot ingest").
 */
export function checkIdempotencyKey(
  key: string,
  source: string,
  doing = "Cannot ingest",
): string {
  if (key.length === 0) throw new TypeError(`${doing}: ${source} is empty`);
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new TypeError(
      `${doing}: ${source} is longer than ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`,
    );
  }
  if (!KEY.test(key)) {
    throw new TypeError(
      `${doing}: ${source} must be printable ASCII without spaces (0x21-0x7E)`,
    );
  }
  // A URL path drops these segments (even percent-encoded): the batch's status could not be read.
  if (key === "." || key === "..") {
    throw new TypeError(`${doing}: ${source} may not be "." or ".."`);
  }
  return key;
}

/**
 * The batch's idempotency key: the `Idempotency-Key` header or the
 * FlatBuffers `batch_id`, whichever is given; null for neither. Both given
 * and different is a 400: the client would not know which one counted.
 */
export function batchKey(header: string | null, batchId: string | null): string | null {
  const fromHeader = header === null ? null : checkIdempotencyKey(header, "Idempotency-Key");
  const fromBody = batchId === null || batchId === ""
    ? null
    : checkIdempotencyKey(batchId, "the batch's batch_id");
  if (fromHeader !== null && fromBody !== null && fromHeader !== fromBody) {
    throw new TypeError(
      "Cannot ingest: the Idempotency-Key header and the batch's batch_id differ",
    );
  }
  return fromHeader ?? fromBody;
}

/**
 * SHA-256 (hex) of the media type and the raw body: the same key with
 * another fingerprint is another request (422), not a retry.
 */
export async function bodyFingerprint(mediaType: string, body: Uint8Array): Promise<string> {
  const type = new TextEncoder().encode(`${mediaType}\n`);
  const input = new Uint8Array(type.byteLength + body.byteLength);
  input.set(type);
  input.set(body, type.byteLength);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", input));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}
