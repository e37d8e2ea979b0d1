// The read API: sensors, a sensor's history, a group's aggregates and the
// groups, within the viewer's token's groups.
export { readApi } from "./read_api.ts";
export { aggregatesRoute, historyRoute, label as windowLabel, sensorsRoute } from "./routes.ts";
export type { QueryDeps } from "./routes.ts";
export { viewerScope } from "./viewer_scope.ts";
