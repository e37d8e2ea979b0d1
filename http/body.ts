/**
 * Reads a request body up to `maxBytes`. Returns null when it is larger,
 * without reading more than one chunk past the limit. A body that breaks off
 * throws `Deno.errors.ConnectionAborted` (the client closed the connection),
 * one that is badly framed (e.g. a chunk size that is not hexadecimal)
 * `Deno.errors.InvalidData`: both are the client's doing (400, see errors.ts).
 */
export async function readBodyLimited(
  request: Request,
  maxBytes: number,
): Promise<Uint8Array | null> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) {
    await discardBody(request);
    return null;
  }
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  while (true) {
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = await reader.read();
    } catch (error) {
      throw bodyError(error);
    }
    const { done, value } = next;
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const body = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return body;
}

/** Drops a body that will not be read; a connection that is already gone is fine. */
export async function discardBody(request: Request): Promise<void> {
  await request.body?.cancel().catch(() => {});
}

function bodyError(error: unknown): Error {
  const reason = error instanceof Error ? error.message : String(error);
  // Deno reports a connection that closed mid-body as BadResource.
  if (error instanceof Deno.errors.BadResource || error instanceof Deno.errors.ConnectionReset) {
    return new Deno.errors.ConnectionAborted(
      `Cannot read the request body: the client closed the connection (${reason})`,
      { cause: error },
    );
  }
  return new Deno.errors.InvalidData(`Cannot read the request body: it is malformed (${reason})`, {
    cause: error,
  });
}
