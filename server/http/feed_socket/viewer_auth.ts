import { CloseCode } from "../../../protocol/close_codes.ts";
import type { Viewer } from "../../auth/mod.ts";
import type { TokenCheck } from "./feed_request.ts";

export interface ViewerAuthOptions {
  /** The viewer the upgrade request's subprotocol token named, if any. */
  viewer: Viewer | null;
  /** How long an unauthenticated connection may wait for its Auth message. Default 5000 ms. */
  authTimeoutMs?: number;
  /** The connection may join the hub (once: at open, or at its first valid token). */
  onJoin(viewer: Viewer | null): void;
  /** The connection must be closed with `code` (4003 for token problems). */
  onRefuse(code: number, reason: string): void;
  /** Clock. Default `Date.now`. */
  now?: () => number;
}

/**
 * One feed connection's dashboard authentication. Without tokens configured
 * it joins at once. With them it joins once a token verifies (the upgrade's
 * subprotocol token, or a first Auth message within `authTimeoutMs`), and
 * is refused with 4003 when the token expires unless an Auth message
 * refreshes it with the same groups.
 */
export class ViewerAuth {
  readonly #tokens?: TokenCheck;
  readonly #options: ViewerAuthOptions;
  readonly #now: () => number;
  #viewer: Viewer | null;
  #expiry: ReturnType<typeof setTimeout> | undefined;
  #deadline: ReturnType<typeof setTimeout> | undefined;

  constructor(tokens: TokenCheck | undefined, options: ViewerAuthOptions) {
    this.#tokens = tokens;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#viewer = options.viewer;
  }

  get viewer(): Viewer | null {
    return this.#viewer;
  }

  /** Whether the connection's messages may reach the hub: no tokens, or a verified one. */
  get authenticated(): boolean {
    return !this.#tokens || this.#viewer !== null;
  }

  /** The socket is open: join now, or wait (bounded) for an Auth message. */
  opened(): void {
    if (!this.#tokens) return this.#options.onJoin(null);
    if (this.#viewer) {
      this.#watchExpiry(this.#viewer.expiresAt);
      return this.#options.onJoin(this.#viewer);
    }
    this.#deadline = setTimeout(
      () => this.#options.onRefuse(CloseCode.Unauthorized, "authenticate with a token first"),
      this.#options.authTimeoutMs ?? 5_000,
    );
  }

  /** An Auth message: a first token joins, a later one must keep the groups and moves the expiry. */
  async authenticate(token: string): Promise<void> {
    if (!this.#tokens) {
      return this.#options.onRefuse(CloseCode.BadFrame, "this server does not use tokens");
    }
    try {
      const fresh = await this.#tokens.verify(token);
      const previous = this.#viewer;
      if (previous && fresh.groups.join(",") !== previous.groups.join(",")) {
        return this.#options.onRefuse(
          CloseCode.Unauthorized,
          "a refreshed token must carry the same groups: reconnect",
        );
      }
      this.#viewer = fresh;
      this.#watchExpiry(fresh.expiresAt);
      if (previous === null) {
        clearTimeout(this.#deadline);
        this.#options.onJoin(fresh);
      }
    } catch (error) {
      this.#options.onRefuse(CloseCode.Unauthorized, (error as Error).message.slice(0, 120));
    }
  }

  /** The connection is gone: no timer fires any more. */
  stop(): void {
    clearTimeout(this.#expiry);
    clearTimeout(this.#deadline);
  }

  /** Refuses the connection when its token expires, unless a refresh moves the time. */
  #watchExpiry(expiresAt: number): void {
    clearTimeout(this.#expiry);
    this.#expiry = setTimeout(
      () =>
        this.#options.onRefuse(
          CloseCode.Unauthorized,
          "token expired: send a fresh token before expiry",
        ),
      Math.max(0, Math.min(expiresAt - this.#now(), 2 ** 31 - 1)),
    );
  }
}
