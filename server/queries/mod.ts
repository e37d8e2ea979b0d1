// The read API: sensors, a sensor's history, a group's aggregates.
export { aggregatesRoute, historyRoute, label as windowLabel, sensorsRoute } from "./routes.ts";
export type { QueryDeps } from "./routes.ts";
