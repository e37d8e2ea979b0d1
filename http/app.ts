import { errorResponse, jsonResponse, problem } from "./errors.ts";

export type Handler = (request: Request) => Response | Promise<Response>;

export interface Routes {
  ingest: Handler;
  feed: Handler;
  health: () => unknown;
  /** Every group path with its number of sensors. */
  groups: () => Promise<unknown>;
  /** Prometheus text format. */
  metrics: () => Promise<Response>;
  /** Readiness: 200 when ready, else 503 with the reasons. */
  ready: () => { ready: boolean; problems: string[] };
  files: Handler;
}

/** Routes requests: the API, the WebSocket feed, health, then the dashboard files. */
export function createApp(routes: Routes): Handler {
  return (request) => {
    const { pathname } = new URL(request.url);
    if (pathname === "/api/ingest") {
      return request.method === "POST"
        ? routes.ingest(request)
        : problem(405, "POST a batch of readings to /api/ingest", { allow: "POST" });
    }
    if (pathname === "/ws") return routes.feed(request);
    if (pathname === "/api/groups") {
      return request.method === "GET"
        ? routes.groups().then((groups) => jsonResponse({ groups }), errorResponse)
        : problem(405, "GET /api/groups", { allow: "GET" });
    }
    if (pathname === "/healthz") return jsonResponse(routes.health());
    if (pathname === "/readyz") {
      const readiness = routes.ready();
      return jsonResponse(readiness, { status: readiness.ready ? 200 : 503 });
    }
    if (pathname === "/metrics") return routes.metrics();
    if (pathname.startsWith("/api/")) return problem(404, `No API at ${pathname}`);
    return routes.files(request);
  };
}
