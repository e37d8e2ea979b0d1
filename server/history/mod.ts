export { RollupStore } from "./rollup_store.ts";
export { RollupWriter } from "./rollup_writer.ts";
export {
  chunkStart,
  chunkWindow,
  mergeChunks,
  RollupBuffer,
  setChunkWindow,
  WINDOWS_PER_CHUNK,
} from "./rollup_chunks.ts";
export type { RollupChunk } from "./rollup_chunks.ts";
export { HistoryService } from "./history_service.ts";
export { heldWindowsReader } from "./held_windows.ts";
export type { HeldWindowsReader } from "./held_windows.ts";
export type { HistoryAnswer, HistoryOptions } from "./history_service.ts";
export { bucketize, bucketWidth, parseHistoryRequest, pickResolution } from "./history_query.ts";
export type { HistoryBucket, HistoryRequest, SeriesPoint } from "./history_query.ts";
export { readRawHistory } from "./raw_history.ts";
export { History } from "./history_stage.ts";
export type { HistoryConfig } from "./history_stage.ts";
export { LogHousekeeper } from "./log_housekeeper.ts";
export type { LogPosition } from "./log_housekeeper.ts";
