// MQTT ingest: the embedded listener and the bridge, one start function.
export { startMqttIngest } from "./mqtt_ingest.ts";
export type {
  MqttHealth,
  MqttIngest,
  MqttIngestDeps,
  MqttIngestStartOptions,
} from "./mqtt_ingest.ts";
export {
  DEFAULT_MQTT_OPTIONS,
  enabled as mqttEnabled,
  MQTT_ARGS,
  MQTT_USAGE,
  parseMqttOptions,
} from "./options.ts";
export type { MqttOptions } from "./options.ts";
export type { MqttKeys } from "./listener.ts";
export type { RecordingSink } from "./group_commit.ts";
export { MqttStats } from "./stats.ts";
export type { BridgeHealth } from "./stats.ts";
export { parseTopic, TOPIC_ROOT, topicFor } from "./topic.ts";
export type { TopicTarget } from "./topic.ts";
