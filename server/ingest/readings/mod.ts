export {
  blockFromReadings,
  DEFAULT_GROUP,
  prefixSums,
  ReadingBlockBuilder,
} from "../../../protocol/reading_block.ts";
export type { ReadingBlock } from "../../../protocol/reading_block.ts";
export { DEFAULT_READING_LIMITS } from "./limits.ts";
export type { ReadingLimits } from "./limits.ts";
export { addDocument, parseJsonReadings } from "./json.ts";
export type { ParsedReadings, Refusal } from "./json.ts";
export { filterValidReadings, keepRows, refuseFurther } from "./filter.ts";
export * as validate from "./validate.ts";
export { refusalKind } from "./refusal_kind.ts";
export type { RefusalKind } from "./refusal_kind.ts";
