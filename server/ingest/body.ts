export interface BodyReadOptions {
  /**
   * Longest wait for the next bytes of the body; then a `Deno.errors.TimedOut`
   * (408). Default 30 000 ms.
   */
  idleTimeoutMs?: number;
  /**
   * Free bytes to leave before the body in its buffer (default 0). With
   * room, the body is always one fresh buffer of exactly room + body bytes,
   * the body a view at `headroom` that ends the buffer: the log stamps a
   * FlatBuffers batch into that room instead of copying it
   * (`stampIngestBatchInPlace`).
   */
  headroom?: number;
}

/**
 * Reads a request body up to `maxBytes`. Returns null when it is larger,
 * without reading more than one chunk past the limit. A body that stops
 * arriving for `idleTimeoutMs` throws `Deno.errors.TimedOut`; one that breaks
 * off throws `Deno.errors.ConnectionAborted` (the client closed the
 * connection), one that is badly framed `Deno.errors.InvalidData`: all are the
 * client's doing (408 and 400, see errors.ts).
 */
export async function readBodyLimited(
  request: Request,
  maxBytes: number,
  options: BodyReadOptions = {},
): Promise<Uint8Array | null> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) {
    await discardBody(request);
    return null;
  }
  if (!request.body) return new Uint8Array(0);
  const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  while (true) {
    const { done, value } = await nextChunk(reader, idleTimeoutMs);
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  const headroom = options.headroom ?? 0;
  if (chunks.length === 1 && headroom === 0) return chunks[0];
  const body = new Uint8Array(headroom + total);
  let at = headroom;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return headroom === 0 ? body : body.subarray(headroom);
}

/** Drops a body that will not be read; a connection that is already gone is fine. */
export async function discardBody(request: Request): Promise<void> {
  await request.body?.cancel().catch(() => {});
}

async function nextChunk(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  idleTimeoutMs: number,
): Promise<ReadableStreamReadResult<Uint8Array>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stalled = new Promise<"stalled">((resolve) => {
    timer = setTimeout(() => resolve("stalled"), idleTimeoutMs);
  });
  try {
    const result = await Promise.race([reader.read(), stalled]);
    if (result !== "stalled") return result;
  } catch (error) {
    throw bodyError(error);
  } finally {
    clearTimeout(timer);
  }
  await reader.cancel().catch(() => {});
  throw new Deno.errors.TimedOut(
    `Request body: no bytes arrived for ${idleTimeoutMs / 1000} s; send the whole body promptly`,
  );
}

function bodyError(error: unknown): Error {
  const reason = error instanceof Error ? error.message : String(error);
  if (isParseError(error)) {
    return new Deno.errors.InvalidData(
      `Cannot read the request body: it is malformed (${reason})`,
      {
        cause: error,
      },
    );
  }
  return new Deno.errors.ConnectionAborted(
    `Cannot read the request body: the connection ended before the body was complete (${reason})`,
    { cause: error },
  );
}

/** Node's HTTP parser reports bad framing (e.g. a chunk size that is not hexadecimal) as HPE_* codes. */
function isParseError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("HPE_");
}
