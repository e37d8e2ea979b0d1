import { validate } from "../readings/mod.ts";
import type { ReadingLimits } from "../readings/mod.ts";

/** Every ingest topic starts with this level. */
export const TOPIC_ROOT = "pulseboard";

/** Where a publish's readings go: the topic's sensor and group. */
export interface TopicTarget {
  /** Group path; "" is the default group (`pulseboard/<sensorId>`). */
  readonly group: string;
  readonly sensorId: string;
}

/**
 * Reads `pulseboard/<group path>/<sensorId>`: the last level is the sensor id
 * (so it never holds a `/`), the levels between are the group, checked by
 * the same rules as HTTP ingest. Returns the target, or why it is refused.
 */
export function parseTopic(topic: string, limits: ReadingLimits): TopicTarget | string {
  if (!topic.startsWith(TOPIC_ROOT + "/")) {
    return `topic must be ${TOPIC_ROOT}/<group path>/<sensorId>`;
  }
  // MQTT forbids wildcards in a publish topic; a broker may still pass one on.
  if (topic.includes("+") || topic.includes("#")) return "topic must not hold + or #";
  const last = topic.lastIndexOf("/");
  const sensorId = topic.slice(last + 1);
  const problem = validate.checkSensorId(sensorId, limits);
  if (problem) return `topic: ${problem}`;
  if (last === TOPIC_ROOT.length) return { group: "", sensorId };
  const group = topic.slice(TOPIC_ROOT.length + 1, last);
  // "" would pass as the default group; an empty level is a malformed path instead.
  const bad = group === "" ? "group has an empty level" : validate.checkGroup(group, limits);
  if (bad) return `topic: ${bad}`;
  return { group, sensorId };
}

/** The topic a reading of `sensorId` in `group` is published to (the inverse of `parseTopic`). */
export function topicFor(target: TopicTarget): string {
  return target.group === ""
    ? `${TOPIC_ROOT}/${target.sensorId}`
    : `${TOPIC_ROOT}/${target.group}/${target.sensorId}`;
}
