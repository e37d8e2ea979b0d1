/**
 * Responses whose body is already whole in memory (the JSON answers): the
 * HTTP server writes such a body in one `end` with its length, instead of
 * reading it back through a stream. At ~500 ingest answers a second the
 * stream, its reader and their promise hops cost the main thread more than
 * the write itself.
 */
const bodies = new WeakMap<Response, Uint8Array>();

/** A `Response` with `body` as its whole body, which `wholeBodyOf` can give back. */
export function wholeResponse(body: Uint8Array<ArrayBuffer>, init: ResponseInit = {}): Response {
  const response = new Response(body, init);
  bodies.set(response, body);
  return response;
}

/** The body `wholeResponse` was given, unless something has read it; else undefined. */
export function wholeBodyOf(response: Response): Uint8Array | undefined {
  return response.bodyUsed ? undefined : bodies.get(response);
}
