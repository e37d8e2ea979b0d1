import { ApiKeys } from "./api_keys.ts";
import { TokenVerifier } from "./tokens.ts";
import { logger } from "../ops/logger.ts";

/** Who may come in: dashboard viewers (JWTs) and ingest writers (API keys). */
export interface Auth {
  /** Verifies dashboard JWTs; null when none are configured (the feed is open). */
  tokens: TokenVerifier | null;
  apiKeys: ApiKeys;
}

/** The options (`server/config`) authentication is made from. */
export interface AuthConfig {
  host: string;
  insecure: boolean;
  jwtIssuer: string | null;
  jwtAudience: string | null;
  jwtPublicKeyFile: string | null;
}

/**
 * The verifier the config asks for (and PULSEBOARD_JWT_SECRET) and the API
 * keys in the store. Off loopback both dashboards (JWT) and ingest (API keys)
 * must authenticate: without either, it refuses with PermissionDenied unless
 * `--insecure` accepts the risk. Whatever is left open is logged as a warning.
 */
export async function openAuth(kv: Deno.Kv, config: AuthConfig): Promise<Auth> {
  const tokens = await tokenVerifier(config);
  const apiKeys = new ApiKeys(kv);
  if (!isLoopback(config.host) && !config.insecure && (!tokens || !(await apiKeys.inUse()))) {
    throw new Deno.errors.PermissionDenied(
      `Refusing to listen on ${config.host}: ${
        !tokens ? "dashboard JWT authentication" : "an ingest API key"
      } ` +
        "is not configured. Configure it (see SECURITY.md), listen on 127.0.0.1 (the default), " +
        "or pass --insecure to accept the risk.",
    );
  }
  if (!(await apiKeys.inUse())) {
    logger.warn("ingest is open: no API keys exist (create one with `deno task keys create`)");
  }
  if (!tokens) {
    logger.warn(
      `dashboards are not authenticated (no JWT configured): listening on ${config.host} only`,
    );
  }
  return { tokens, apiKeys };
}

/** The dashboard token verifier the config asks for, or null for none. */
async function tokenVerifier(config: AuthConfig): Promise<TokenVerifier | null> {
  const secret = Deno.env.get("PULSEBOARD_JWT_SECRET");
  if (!config.jwtIssuer && !config.jwtAudience && !config.jwtPublicKeyFile && !secret) return null;
  return TokenVerifier.create({
    issuer: config.jwtIssuer ?? "",
    audience: config.jwtAudience ?? "",
    secret,
    publicKeyPem: config.jwtPublicKeyFile
      ? await Deno.readTextFile(config.jwtPublicKeyFile)
      : undefined,
  });
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}
