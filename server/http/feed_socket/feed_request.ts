import { problem } from "../errors.ts";
import { singleValuedQuery } from "../query_params.ts";
import { tokenFromProtocols } from "../../auth/mod.ts";
import type { Viewer } from "../../auth/mod.ts";

/** The subprotocol a client offers next to `bearer.<jwt>`; the server selects it. */
export const FEED_PROTOCOL = "pulseboard";

/** Checks a dashboard token (`TokenVerifier`). */
export interface TokenCheck {
  verify(token: string): Promise<Viewer>;
}

/** What a feed upgrade request asks for. */
export interface FeedRequest {
  /** `?subscribe=explicit`: nothing until the first Subscribe (a resume skips the snapshot). */
  explicit: boolean;
  /** `?windows=1`: per-sensor event-time windows on the implicit everything-subscription. */
  windows: boolean;
  /** `?encoding=compact`: topic frames as CompactDelta (compressed when that pays); default full Deltas. */
  encoding: "full" | "compact";
  /** The viewer of a `bearer.<jwt>` subprotocol, verified; null without one. */
  viewer: Viewer | null;
}

/**
 * The first step of GET /ws, before the upgrade: only `subscribe=explicit`,
 * `windows=1` and `encoding=compact` (or `full`) in the query, each at most once (400 otherwise); a token offered as the
 * `bearer.<jwt>` subprotocol must verify (401) and come with the
 * `pulseboard` subprotocol (400). The Origin was checked before (app.ts).
 */
export async function readFeedRequest(
  request: Request,
  tokens?: TokenCheck,
): Promise<FeedRequest | Response> {
  let query: URLSearchParams;
  try {
    query = singleValuedQuery(request.url);
  } catch (error) {
    return problem(400, (error as Error).message);
  }
  for (const [name, value] of query) {
    if (
      !(name === "subscribe" && value === "explicit") &&
      !(name === "windows" && (value === "1" || value === "true")) &&
      !(name === "encoding" && (value === "compact" || value === "full"))
    ) {
      return problem(
        400,
        `Unknown query parameter ${name}=${value}: only subscribe=explicit, windows=1 and encoding=compact are accepted`,
      );
    }
  }
  const protocols = request.headers.get("sec-websocket-protocol");
  const headerToken = tokenFromProtocols(protocols);
  let viewer: Viewer | null = null;
  if (tokens && headerToken !== null) {
    try {
      viewer = await tokens.verify(headerToken);
    } catch (error) {
      return problem(401, (error as Error).message, {
        "www-authenticate": 'Bearer realm="pulseboard"',
      });
    }
  }
  const offered = protocols?.split(",").map((p) => p.trim()) ?? [];
  if (headerToken !== null && !offered.includes(FEED_PROTOCOL)) {
    return problem(400, `Offer the "${FEED_PROTOCOL}" subprotocol next to bearer.<token>`);
  }
  return {
    explicit: query.get("subscribe") === "explicit",
    windows: query.has("windows"),
    encoding: query.get("encoding") === "compact" ? "compact" : "full",
    viewer,
  };
}
