/**
 * Every Deno KV key the server uses, by its first part: one place, so no two
 * stages share a prefix by accident and each stored thing can be found. Every
 * file that reads or writes the store takes its prefix from here.
 */
export const KEYS = {
  /** `["log", <versionstamp>]` → one chunk of the event log, an IngestBatch (`KvLog`). */
  log: "log",
  /** `["log_head"]` → Deno.KvU64, chunks committed so far; each commit sums it, readers watch it. */
  logHead: "log_head",
  /** `["log_mark", <timeMs>]` → `{ cursor, committedChunks }`: a log position at a wall time. */
  logMark: "log_mark",
  /**
   * `["checkpoint", "current"]` → the pointer to the current checkpoint's generation;
   * `["checkpoint", "garbage", <generation>]` → `{ pieces }` (that generation's part
   * "garbage" lists what its save superseded) or `{ whole: true }` (a save given up), until
   * collected; `["checkpoint", "garbage"]` → the older layout's one list of parts (read
   * and deleted, never written).
   */
  checkpoint: "checkpoint",
  /**
   * `["checkpoint_pieces", <generation>, ...<part>, <i>]` → pieces of at most 60 KB of one
   * part of a checkpoint: "meta", "router" <page>, "shard" <shard> <page>, "source",
   * "extra" <name>, "garbage" (the JSON list of parts its save superseded).
   */
  checkpointPieces: "checkpoint_pieces",
  /**
   * `["rollup", <sizeMs>, <sensorId>, <chunkStartMs>(, <part>)]` → final windows of one
   * sensor (older layouts, read only), expiring.
   */
  rollup: "rollup",
  /**
   * `["rollup_block", <sizeMs>, <bucket>, <chunkStartMs>, <part>]` → a block of final windows
   * of the sensors in one bucket (`server/history/rollup_block.ts`), expiring (the layout
   * before `rollup_span`, read only).
   */
  rollupBlock: "rollup_block",
  /**
   * `["rollup_span", <sizeMs>, <chunkStartMs>, <bucket>, <part>]` → the same blocks, time
   * first: a flush's writes and the expiry's deletes fall together at the ends of the range.
   */
  rollupSpan: "rollup_span",
  /** `["ingest_batch", <API key id or "">, <batch key>]` → an idempotent batch's record. */
  ingestBatch: "ingest_batch",
  /** `["ingest_batch_answer", <API key id or "">, <batch key>, <i>]` → pieces of its answer. */
  ingestBatchAnswer: "ingest_batch_answer",
  /** `["api_key", <id>]` → an ingest API key's record (hash, groups, revocation). */
  apiKey: "api_key",
  /**
   * `["mqtt_retry", <API key id or "">, <client id>, <epoch>, <packet id>]` →
   * the fingerprint of a persistent MQTT session's committed QoS 1 publish,
   * written with its readings, expiring after `--mqtt-retry-ttl`.
   */
  mqttRetry: "mqtt_retry",
  /** `["mqtt_session_epoch", <API key id or "">, <client id>]` → the session's epoch (forgetting moves it on). */
  mqttSessionEpoch: "mqtt_session_epoch",
  /** `["mqtt_bridge", "client_id"]` → the MQTT bridge's client id, made once at random. */
  mqttBridge: "mqtt_bridge",
} as const;

/** The first part of every key the server writes. */
export const KEY_PREFIXES: readonly string[] = Object.values(KEYS);
