// Viewport views: shared, ordered, filtered views over the fleet and the
// windows sessions hold on them (issue 11). Pure: the hub feeds each tick's
// changes in and encodes what comes out.
export { ViewTable } from "./view_table.ts";
export type { Opened, TickWork, ViewTableOptions, WindowRequest } from "./view_table.ts";
export { DEFAULT_WINDOW_LIMITS, MAX_OFFSET, placeWindow, ViewWindow } from "./view_window.ts";
export type { WindowLimits } from "./view_window.ts";
export { View } from "./view.ts";
export type { Slice } from "./view.ts";
export { checkView, METRIC_FIELDS, NO_FILTER, sortKeyName, viewKey } from "./view_spec.ts";
export type { MetricField, SortDirection, SortKey, ViewFilter, ViewSort } from "./view_spec.ts";
export { SortKeys } from "./sort_keys.ts";
export type { KeyColumn, StateSource } from "./sort_keys.ts";
export { SparkPoints } from "./spark_points.ts";
export { UpdateOrder } from "./update_order.ts";
export type { SparkPointsOptions } from "./spark_points.ts";
export { compareNames, naturalKey } from "./natural_key.ts";
