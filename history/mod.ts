export { rollupRecords, RollupStore } from "./rollup_store.ts";
export type { RollupRecord } from "./rollup_store.ts";
export { HistoryService } from "./history_service.ts";
export type { HistoryAnswer, HistoryOptions } from "./history_service.ts";
export { bucketize, bucketWidth, parseHistoryRequest, pickResolution } from "./history_query.ts";
export type { HistoryBucket, HistoryRequest, SeriesPoint } from "./history_query.ts";
export { readRawHistory } from "./raw_history.ts";
export { RollupQueue } from "./rollup_queue.ts";
