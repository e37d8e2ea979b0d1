import {
  addDocument,
  DEFAULT_GROUP,
  filterValidReadings,
  ReadingBlockBuilder,
  refuseFurther,
} from "../readings/mod.ts";
import type { ReadingLimits, Refusal } from "../readings/mod.ts";
import { decodeIngestBatch } from "../../../protocol/ingest_codec.ts";
import { covers } from "../../../actors/hub/mod.ts";
import type { TopicTarget } from "./topic.ts";
import type { FleetLimit } from "../fleet_limit.ts";
import type { SensorGroups } from "../sensor_groups.ts";
import type { Writer } from "../../auth/mod.ts";

/** What became of one publish's readings. */
export interface PayloadOutcome {
  /** Readings appended to the builder. */
  accepted: number;
  /** Refused readings by index in the payload (0 for a JSON reading), sorted. */
  refused: readonly Refusal[];
}

export interface PayloadOptions {
  limits: ReadingLimits;
  /** When the publish arrived: a JSON reading without a timestamp is stamped with it. */
  receivedAt: number;
  /** Most readings in one IngestBatch payload. */
  maxReadings: number;
  /** The fleet's caps on sensors and metric names; without it, none. */
  fleet?: FleetLimit;
  /** The groups sensors are in, and the publishing key: it may not write another group's sensor. */
  owner?: { groups: SensorGroups; writer: Writer };
}

const NONE: readonly Refusal[] = Object.freeze([]);
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Validates one publish's payload for `target` (from its topic) and appends
 * the good readings to `builder`. The payload is either a JSON reading
 * without sensorId and group (`{"timestamp"?, "reading": {...}, "status"?}`),
 * or an IngestBatch FlatBuffer from a gateway (with the file identifier
 * "PLSB", as `IngestBatchWriter` writes it): its readings keep their own
 * sensor ids and must lie in the topic's group (those without a group get
 * it). The same rules as HTTP ingest apply (`addDocument`, `filterValidReadings`).
 * Throws Busy, having added nothing, when the key's groups or the fleet's
 * caps cannot be judged yet (`SensorGroups.mayJudge`, `FleetLimit`).
 */
export function addPayload(
  builder: ReadingBlockBuilder,
  payload: Uint8Array,
  target: TopicTarget,
  options: PayloadOptions,
): PayloadOutcome {
  if (payload.byteLength === 0) return refusedWhole("payload is empty");
  return isIngestBatch(payload)
    ? addBatch(builder, payload, target, options)
    : addJsonReading(builder, payload, target, options);
}

/**
 * An IngestBatch carries the schema's file identifier "PLSB" in bytes 4..7
 * (after its root offset); a JSON reading cannot: it starts with `{` and a
 * quoted key, or whitespace.
 */
function isIngestBatch(payload: Uint8Array): boolean {
  return payload.byteLength >= 8 && payload[4] === 0x50 && payload[5] === 0x4c &&
    payload[6] === 0x53 && payload[7] === 0x42;
}

function addJsonReading(
  builder: ReadingBlockBuilder,
  payload: Uint8Array,
  target: TopicTarget,
  { limits, receivedAt, fleet, owner }: PayloadOptions,
): PayloadOutcome {
  let text: string;
  try {
    text = UTF8.decode(payload);
  } catch {
    return refusedWhole("payload is not valid UTF-8");
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    return refusedWhole(
      `payload is not valid JSON (${
        (error as Error).message
      }) nor an IngestBatch (file identifier "PLSB")`,
    );
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    return refusedWhole(
      'reading must be a JSON object: {"timestamp"?, "reading": {...}, "status"?}',
    );
  }
  const fields = doc as Record<string, unknown>;
  if ("sensorId" in fields || "group" in fields) {
    return refusedWhole("reading must not hold sensorId or group: the topic names them");
  }
  if (owner && !owner.groups.mayJudge(owner.writer)) {
    // As keepOwn does for a batch: Busy, so the publish is not acknowledged.
    throw new Deno.errors.Busy(
      "the server is still reading its log, so it cannot tell which group each sensor is in yet",
    );
  }
  const foreign = owner ? owner.groups.refusal(target.sensorId, owner.writer) : null;
  if (foreign !== null) return refusedWhole(foreign);
  fields.sensorId = target.sensorId;
  if (target.group !== "") fields.group = target.group;
  if (fields.timestamp === undefined) fields.timestamp = receivedAt;
  const reason = addDocument(
    builder,
    fields,
    limits,
    receivedAt,
    fleet && ((sensorId, metrics) => fleet.admit(sensorId, metrics)),
  );
  if (reason !== null) return refusedWhole(reason);
  owner?.groups.claimSensor(target.sensorId, target.group);
  return { accepted: 1, refused: NONE };
}

function addBatch(
  builder: ReadingBlockBuilder,
  payload: Uint8Array,
  target: TopicTarget,
  { limits, receivedAt, maxReadings, fleet, owner }: PayloadOptions,
): PayloadOutcome {
  let decoded;
  try {
    decoded = decodeIngestBatch(payload, { maxReadings, maxBatchIdBytes: 128 });
  } catch (error) {
    return refusedWhole(`payload is not a valid IngestBatch (${(error as Error).message})`);
  }
  const valid = filterValidReadings(decoded.block, limits, receivedAt);
  const scope = target.group === "" ? DEFAULT_GROUP : target.group;
  const scoped = refuseFurther(valid, (row) => {
    const group = valid.block.strings[valid.block.group[row]];
    return group !== "" && !covers(scope, group)
      ? `group "${group}" is outside the topic's group "${scope}"`
      : null;
  });
  // keepOwn and the fleet's caps throw Busy when they cannot judge yet: the publish is then
  // not acknowledged (`PublishIngest`), nothing of it added.
  const owned = owner ? owner.groups.keepOwn(scoped, owner.writer) : scoped;
  // The fleet's caps last, so only readings taken count against them.
  const taken = fleet ? fleet.keep(owned) : owned;
  owner?.groups.claim(taken);
  const { block, refused } = taken;
  const s = block.strings;
  for (let row = 0; row < block.length; row++) {
    builder.begin(
      s[block.sensor[row]],
      s[block.group[row]] || target.group,
      block.timeMs[row],
      s[block.status[row]],
    );
    for (let v = block.metricStart[row]; v < block.metricStart[row + 1]; v++) {
      builder.addValue(s[block.metric[v]], block.value[v]);
    }
  }
  return { accepted: block.length, refused: refused.length === 0 ? NONE : refused };
}

function refusedWhole(reason: string): PayloadOutcome {
  return { accepted: 0, refused: [{ index: 0, reason }] };
}
