import * as jose from "jose";
import { checkGroup } from "../../protocol/names.ts";

/** A verified dashboard viewer. */
export interface Viewer {
  subject: string;
  /** Group prefixes the viewer may read; "*" for all. */
  groups: string[];
  /** When the token expires, ms since the epoch. */
  expiresAt: number;
}

export interface TokenOptions {
  issuer: string;
  audience: string;
  /** HS256 shared secret (from PULSEBOARD_JWT_SECRET), or a PEM public key (SPKI). */
  secret?: string;
  publicKeyPem?: string;
  /** Seconds of clock skew tolerated on exp/nbf/iat. Default 30. */
  clockToleranceSeconds?: number;
}

const ASYMMETRIC = ["RS256", "PS256", "ES256", "EdDSA"];

/**
 * Verifies dashboard JWTs with jose: an algorithm allow-list fixed by the key
 * type (never taken from the token), issuer, audience, expiry (required) and
 * a clock tolerance. The `groups` claim lists the group prefixes the viewer
 * may read.
 */
export class TokenVerifier {
  readonly #keys: (header: jose.JWSHeaderParameters) => Promise<jose.CryptoKey | Uint8Array>;
  readonly #algorithms: string[];
  readonly #options: TokenOptions;

  private constructor(
    options: TokenOptions,
    algorithms: string[],
    key: jose.CryptoKey | Uint8Array | null,
  ) {
    this.#options = options;
    this.#algorithms = algorithms;
    const cache = new Map<string, jose.CryptoKey>();
    this.#keys = async (header) => {
      if (key) return key;
      // One public key may serve several asymmetric algorithms; import it per algorithm once.
      let imported = cache.get(header.alg!);
      if (!imported) {
        imported = await jose.importSPKI(options.publicKeyPem!, header.alg!);
        cache.set(header.alg!, imported);
      }
      return imported;
    };
  }

  static create(options: TokenOptions): TokenVerifier {
    if (!options.issuer || !options.audience) {
      throw new TypeError("JWT auth needs an issuer and an audience");
    }
    if (options.secret !== undefined) {
      if (options.secret.length < 32) {
        throw new TypeError("PULSEBOARD_JWT_SECRET must be at least 32 characters");
      }
      return new TokenVerifier(options, ["HS256"], new TextEncoder().encode(options.secret));
    }
    if (options.publicKeyPem !== undefined) return new TokenVerifier(options, ASYMMETRIC, null);
    throw new TypeError("JWT auth needs PULSEBOARD_JWT_SECRET or --jwt-public-key");
  }

  /** The viewer a token names; throws a TypeError saying why it is refused. */
  async verify(token: string): Promise<Viewer> {
    let payload: jose.JWTPayload;
    try {
      ({ payload } = await jose.jwtVerify(token, this.#keys, {
        algorithms: this.#algorithms,
        issuer: this.#options.issuer,
        audience: this.#options.audience,
        clockTolerance: this.#options.clockToleranceSeconds ?? 30,
        requiredClaims: ["exp", "sub"],
      }));
    } catch (error) {
      throw new TypeError(`Invalid token: ${(error as Error).message}`);
    }
    const groups = payload.groups;
    if (
      !Array.isArray(groups) || groups.length === 0 || !groups.every((g) => typeof g === "string")
    ) {
      throw new TypeError("Invalid token: the groups claim must list group prefixes or *");
    }
    for (const group of groups as string[]) {
      if (group !== "*" && checkGroup(group) !== null) {
        throw new TypeError(`Invalid token: "${group}" is not a group prefix`);
      }
    }
    return { subject: payload.sub!, groups: groups as string[], expiresAt: payload.exp! * 1000 };
  }
}

/** The bearer token offered in `Sec-WebSocket-Protocol` as `bearer.<jwt>`, if any. */
export function tokenFromProtocols(header: string | null): string | null {
  if (!header) return null;
  for (const part of header.split(",")) {
    const value = part.trim();
    if (value.startsWith("bearer.")) return value.slice("bearer.".length);
  }
  return null;
}
