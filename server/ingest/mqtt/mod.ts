// MQTT ingest: the embedded listener and the bridge, one stage.
export { mqttEnabled, startMqtt } from "./mqtt_stage.ts";
export type { MqttConfig } from "./mqtt_stage.ts";
export type {
  MqttHealth,
  MqttIngest,
  MqttIngestDeps,
  MqttIngestStartOptions,
  MqttOptions,
} from "./mqtt_ingest.ts";
export type { MqttKeys } from "./listener.ts";
export type { RecordingSink } from "./group_commit.ts";
export { MqttStats } from "./stats.ts";
export type { BridgeHealth } from "./stats.ts";
export { parseTopic, TOPIC_ROOT, topicFor } from "./topic.ts";
export type { TopicTarget } from "./topic.ts";
