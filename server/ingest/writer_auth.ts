import type { Writer } from "../auth/mod.ts";
import { problem } from "../http/errors.ts";

/** The API key store as the HTTP layer needs it. */
export interface WriterKeys {
  inUse(): Promise<boolean>;
  verify(presented: string): Promise<Writer | null>;
}

/**
 * The writer a request authenticates as: null when no API key exists (open
 * ingest), false when keys exist and the request presents no valid one.
 */
export async function authenticateWriter(
  request: Request,
  keys: WriterKeys | undefined,
): Promise<Writer | null | false> {
  if (!keys || !(await keys.inUse())) return null;
  const presented = request.headers.get("x-api-key") ??
    request.headers.get("authorization")?.replace(/^Bearer\s+/i, "") ?? "";
  return (presented ? await keys.verify(presented) : null) ?? false;
}

/** 401 for a request without a valid API key. */
export function unauthorizedWriter(action: string): Response {
  return problem(401, `Cannot ${action}: present a valid API key (Authorization: Bearer <key>)`, {
    "www-authenticate": 'Bearer realm="pulseboard-ingest"',
  });
}
