export { blockFromReadings, DEFAULT_GROUP, prefixSums, ReadingBlockBuilder } from "./block.ts";
export type { ReadingBlock } from "./block.ts";
export { DEFAULT_READING_LIMITS } from "./limits.ts";
export type { ReadingLimits } from "./limits.ts";
export { parseJsonReadings } from "./json.ts";
export type { ParsedReadings, Refusal } from "./json.ts";
export { filterValidReadings } from "./filter.ts";
export * as validate from "./validate.ts";
