export { CloseCode } from "./close_codes.ts";
export { decodeClientMessage } from "./client_messages.ts";
export type { ClientMessage, SubscriptionRequest } from "./client_messages.ts";
export {
  encodeAuth,
  encodeDelta,
  encodeError,
  encodePing,
  encodePong,
  encodeSnapshot,
  encodeSubscribe,
  encodeSubscribed,
  encodeUnsubscribe,
} from "./frames.ts";
export type {
  DeltaFrame,
  MetricEntry,
  MetricStates,
  SensorEntry,
  SnapshotFrame,
} from "./frames.ts";
export { decodeCompactDelta, encodeCompactDelta } from "./compact_delta.ts";
export type {
  BaseColumns,
  BaseValues,
  CompactDecodeOptions,
  CompactEncodeOptions,
} from "./compact_delta.ts";
export { compressFrame, DEFLATE_RAW, inflateFrame } from "./compression.ts";
export type { CompressOptions, InflateOptions } from "./compression.ts";
export { decodeIngestBatch, encodeReadingBlock } from "./ingest_codec.ts";
export type { DecodedBatch } from "./ingest_codec.ts";
export { FlatBufferVerifier } from "./verifier.ts";
