import { errorResponse, jsonResponse, problem } from "./errors.ts";
import { originAllowed, preflight, withCors } from "./origin.ts";
import { requestHost } from "./allowed_hosts.ts";
import type { AllowedHosts } from "./allowed_hosts.ts";

/** Who is at the other end of a request's connection (`Deno.ServeHandlerInfo` has this shape too). */
export interface ConnectionInfo {
  remoteAddr: { hostname: string; port: number };
}

export type Handler = (
  request: Request,
  info?: ConnectionInfo,
) => Response | Promise<Response>;

export interface Routes {
  ingest: Handler;
  /** GET /api/ingest/:batchId (the id percent-decoded, not yet validated). */
  ingestStatus: (request: Request, batchId: string) => Promise<Response>;
  feed: Handler;
  health: () => unknown;
  /** GET /api/groups: every group path (the caller may read) with its number of sensors. */
  groups: (request: Request) => Promise<Response>;
  /** Prometheus text format. */
  metrics: () => Promise<Response>;
  /** Readiness: 200 when ready, else 503 with the reasons. */
  ready: () => { ready: boolean; problems: string[] };
  /** GET /api/sensors, GET /api/sensors/:id/history, GET /api/aggregates */
  sensors: Handler;
  history: (request: Request, sensorId: string) => Promise<Response>;
  aggregates: Handler;
  /** GET /api/metrics: each metric's name, unit, precision and thresholds. */
  metricMeta?: Handler;
  files: Handler;
  /** Origins allowed to call the API from other sites (CORS); null for none. */
  corsOrigins?: readonly string[] | null;
  /** Exact origins allowed to open the feed; null: only the server's own (from `hosts`). */
  allowedOrigins?: readonly string[] | null;
  /** The hosts this server answers to; known once it listens. */
  hosts: () => AllowedHosts;
}

/**
 * Routes requests: the API, the WebSocket feed, health, then the dashboard
 * files. Every request must first name an allowed host (421 otherwise), so
 * a DNS-rebinding page reaches none of them.
 */
export function createApp(routes: Routes): Handler {
  const cors = routes.corsOrigins ?? null;
  const allowList = routes.allowedOrigins ?? null;
  return async (request, info) => {
    const hosts = routes.hosts();
    const host = requestHost(request);
    if (!hosts.allows(host)) {
      return problem(
        421,
        `This server does not answer to Host ${JSON.stringify(host.slice(0, 200))} ` +
          "(list its public names with --allowed-hosts)",
      );
    }
    const { pathname } = new URL(request.url);
    if (pathname.startsWith("/api/")) {
      if (request.method === "OPTIONS") return preflight(request, cors);
      return withCors(request, await api(request, pathname), cors);
    }
    if (pathname === "/ws") {
      // Checked before the upgrade: a page on another site cannot ride a visitor's browser.
      if (!originAllowed(request, { allowList, hosts })) {
        return problem(403, `Origin ${request.headers.get("origin")} may not open the feed`);
      }
      return routes.feed(request, info);
    }
    if (pathname === "/healthz") {
      return read(request, "/healthz", () => jsonResponse(routes.health()));
    }
    if (pathname === "/readyz") {
      return read(request, "/readyz", () => {
        const readiness = routes.ready();
        return jsonResponse(readiness, { status: readiness.ready ? 200 : 503 });
      });
    }
    if (pathname === "/metrics") return read(request, "/metrics", () => routes.metrics());
    return routes.files(request);
  };

  function api(request: Request, pathname: string): Response | Promise<Response> {
    if (pathname === "/api/ingest") {
      return request.method === "POST"
        ? routes.ingest(request)
        : problem(405, "POST a batch of readings to /api/ingest", { allow: "POST" });
    }
    if (pathname === "/api/groups") return read(request, pathname, () => routes.groups(request));
    if (pathname === "/api/sensors") return read(request, pathname, () => routes.sensors(request));
    const metricMeta = routes.metricMeta;
    if (pathname === "/api/metrics" && metricMeta) {
      return read(request, pathname, () => metricMeta(request));
    }
    if (pathname === "/api/aggregates") {
      return read(request, pathname, () => routes.aggregates(request));
    }
    const batch = /^\/api\/ingest\/([^/]+)$/.exec(pathname);
    if (batch) {
      if (!reads(request)) {
        return problem(405, "GET /api/ingest/:batchId", { allow: "GET, HEAD" });
      }
      let id: string;
      try {
        id = decodeURIComponent(batch[1]);
      } catch {
        return problem(400, "The batch id in the path is not valid percent-encoding");
      }
      return routes.ingestStatus(request, id).catch(errorResponse);
    }
    const history = /^\/api\/sensors\/([^/]+)\/history$/.exec(pathname);
    if (history) {
      if (!reads(request)) {
        return problem(405, "GET /api/sensors/:id/history", { allow: "GET, HEAD" });
      }
      let id: string;
      try {
        id = decodeURIComponent(history[1]);
      } catch {
        return problem(400, "The sensor id in the path is not valid percent-encoding");
      }
      return routes.history(request, id);
    }
    return problem(404, `No API at ${pathname}`);
  }
}

/** GET, or HEAD: the same answer without its body (the HTTP server leaves it out). */
function reads(request: Request): boolean {
  return request.method === "GET" || request.method === "HEAD";
}

/** `answer` for a GET or HEAD of `path`, else 405 naming the methods it takes. */
function read(
  request: Request,
  path: string,
  answer: () => Response | Promise<Response>,
): Response | Promise<Response> {
  return reads(request) ? answer() : problem(405, `GET ${path}`, { allow: "GET, HEAD" });
}
