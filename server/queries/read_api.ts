import type { Hub } from "../../actors/hub/mod.ts";
import type { TokenVerifier } from "../auth/mod.ts";
import type { History } from "../history/mod.ts";
import { aggregatesRoute, historyRoute, sensorsRoute } from "./routes.ts";
import type { QueryDeps } from "./routes.ts";
import { viewerScope } from "./viewer_scope.ts";
import { groupsRoute } from "./groups_route.ts";
import { errorResponse, jsonResponse } from "../http/errors.ts";
import type { MetricsMeta } from "../../protocol/metric_meta.ts";

/**
 * The read API's routes (GET /api/sensors, /api/sensors/:id/history,
 * /api/aggregates, /api/groups, /api/metrics), answered by the hub's view and the history
 * stage, each within the viewer's groups.
 */
export function readApi(deps: {
  hub: Pick<Hub, "sensors" | "aggregates" | "groups">;
  history: Pick<History, "query">;
  tokens: Pick<TokenVerifier, "verify"> | null;
  /** `--windows` and `--window`, as the API names them. */
  windowSizesMs: readonly number[];
  countWindow: number;
  /** `--metrics-config`, loaded. */
  metricMeta: MetricsMeta;
}) {
  const { hub } = deps;
  const scope = viewerScope(deps.tokens);
  const queries: QueryDeps = {
    scope,
    sensors: (query) => hub.sensors(query),
    aggregates: (group, size, metric, scope) => hub.aggregates({ group, size, metric, scope }),
    history: (request) => deps.history.query(request),
    windowSizesMs: deps.windowSizesMs,
    countWindow: deps.countWindow,
    now: Date.now,
  };
  return {
    sensors: sensorsRoute(queries),
    history: historyRoute(queries),
    aggregates: aggregatesRoute(queries),
    // The metadata is the same for every viewer, but only viewers may read it.
    metricMeta: async (request: Request) => {
      try {
        await scope(request);
        return jsonResponse({ metrics: deps.metricMeta });
      } catch (error) {
        return errorResponse(error);
      }
    },
    groups: groupsRoute({ scope, groups: (scope) => hub.groups(scope), now: Date.now }),
  };
}
