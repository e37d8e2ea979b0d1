// The wire contract, both directions: what the server sends and decodes, what
// clients send and decode, and the column shapes they share. Imported by the
// server, the dashboard (as the workspace package @pulseboard/protocol), the
// simulator, the benchmark and the tests.
export { CloseCode } from "./close_codes.ts";
export { allocateStates, allocateWindowStates, WINDOW_CHANGED, WINDOW_FINAL } from "./columns.ts";
export type {
  GroupAggregateEntry,
  MetricEntry,
  MetricStates,
  SensorEntry,
  WindowStates,
} from "./columns.ts";
export {
  decodeServerFrame,
  encodeDelta,
  encodeError,
  encodePing,
  encodeSnapshot,
  encodeSubscribed,
  peekServerFrame,
} from "./server_frames.ts";
export type {
  DeltaEvent,
  DeltaFrame,
  ServerFrame,
  ServerFrameHeader,
  ServerFrameOptions,
  SnapshotEvent,
  SnapshotFrame,
  SubscribedEvent,
  SubscribedFrame,
  WindowParts,
} from "./server_frames.ts";
export {
  decodeClientMessage,
  encodeAuth,
  encodeClientStats,
  encodePong,
  encodeSubscribe,
  encodeUnsubscribe,
  encodeViewSubscribe,
  MAX_CLIENT_MESSAGE_BYTES,
  MAX_HIDDEN_METRICS,
} from "./client_messages.ts";
export type {
  ClientMessage,
  SubscriptionRequest,
  SubscriptionSpec,
  ViewOrder,
  ViewRequest,
  ViewSortField,
  ViewSortKey,
  ViewSpec,
} from "./client_messages.ts";
export { decodeViewFrame, encodeViewFrame } from "./view_frames.ts";
export type { ViewEvent, ViewFrameInput, ViewFrameKind } from "./view_frames.ts";
export { readSparkColumn, SPARK_DIGITS, writeSparkColumn } from "./spark_columns.ts";
export type { SparkRows, SparkRowsEvent } from "./spark_columns.ts";
export {
  blockFromReadings,
  DEFAULT_GROUP,
  prefixSums,
  ReadingBlockBuilder,
  sliceRows,
} from "./reading_block.ts";
export type { ReadingBlock } from "./reading_block.ts";
export {
  checkGroup,
  checkSensorId,
  findUnshowable,
  MAX_GROUP_LENGTH,
  MAX_SENSOR_ID_LENGTH,
} from "./names.ts";
export { decodeCompactDelta, encodeCompactDelta } from "./compact_delta.ts";
export type {
  BaseColumns,
  BaseValues,
  CompactDecodeOptions,
  CompactEncodeOptions,
  PreviousValues,
} from "./compact_delta.ts";
export { compressFrame, DEFLATE_RAW, inflateFrame } from "./compression.ts";
export type { CompressOptions, InflateOptions } from "./compression.ts";
export { decodeIngestBatch, encodeReadingBlock } from "./ingest_codec.ts";
export type { DecodedBatch } from "./ingest_codec.ts";
export { IngestBatchWriter } from "./ingest_batch_writer.ts";
export { FlatBufferVerifier } from "./verifier.ts";
export { decimalsOf, DEFAULT_METRICS } from "./metric_meta.ts";
export type { Bound, MetricMeta, MetricsMeta, Thresholds } from "./metric_meta.ts";
export { ATTENTION, ATTENTION_NAMES, attentionName } from "./attention.ts";
export type { AttentionCode, AttentionName } from "./attention.ts";
