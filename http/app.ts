import { jsonResponse, problem } from "./errors.ts";

export type Handler = (request: Request) => Response | Promise<Response>;

export interface Routes {
  ingest: Handler;
  feed: Handler;
  health: () => unknown;
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
    if (pathname === "/healthz") return jsonResponse(routes.health());
    if (pathname.startsWith("/api/")) return problem(404, `No API at ${pathname}`);
    return routes.files(request);
  };
}
