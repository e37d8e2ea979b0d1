import type { TokenVerifier } from "../auth/mod.ts";

/**
 * The read API's viewer: the group prefixes of the dashboard token in
 * `Authorization: Bearer <jwt>`, or null (no limit) when the server has no
 * tokens configured. A missing or invalid token is PermissionDenied (401).
 */
export function viewerScope(
  tokens: Pick<TokenVerifier, "verify"> | null,
): (request: Request) => Promise<string[] | null> {
  return async (request) => {
    if (!tokens) return null;
    const token = request.headers.get("authorization")?.match(/^Bearer\s+(.+)$/i)?.[1];
    if (!token) {
      throw new Deno.errors.PermissionDenied("Send a dashboard token: Authorization: Bearer <jwt>");
    }
    const viewer = await tokens.verify(token).catch((error: Error) => {
      throw new Deno.errors.PermissionDenied(error.message);
    });
    return viewer.groups;
  };
}
