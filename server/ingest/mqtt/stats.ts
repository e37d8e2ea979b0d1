/** What became of a publish (a metric label). */
export const PUBLISH_OUTCOMES = [
  /** Its readings are durable (some of a batch's may have been refused). */
  "accepted",
  /** A retry of a publish already committed: acknowledged, not stored again. */
  "duplicate",
  /** Bad topic or payload: nothing stored; acknowledged, the connection kept. */
  "invalid",
  /** Its topic is outside the key's groups: refused (3.1.1: the connection is closed). */
  "not_allowed",
  /** The log append failed: not acknowledged, the connection closed (the client retries). */
  "failed",
] as const;
export type PublishOutcomeKind = typeof PUBLISH_OUTCOMES[number];

export const PUBLISH_SOURCES = ["listener", "bridge"] as const;
export type PublishSource = typeof PUBLISH_SOURCES[number];

/** How a connection attempt to the listener ended (a metric label). */
export const CONNECT_OUTCOMES = [
  "accepted",
  /** No key, or a wrong or revoked one, while API keys exist (CONNACK 4). */
  "bad_key",
  /** A client id over 128 characters (CONNACK 2). */
  "bad_client_id",
  /** Over --mqtt-max-connections (closed at accept). */
  "over_connections",
  /** Over --mqtt-max-connections-per-address, or its connect rate (closed at accept). */
  "over_address",
  /** Over --mqtt-max-connections-per-key, or its connect rate (CONNACK 3). */
  "over_key",
] as const;
export type ConnectOutcome = typeof CONNECT_OUTCOMES[number];

/** The bridge's state, for /healthz. */
export interface BridgeHealth {
  state: "connecting" | "connected" | "reconnecting" | "stopped";
  connected: boolean;
  clientId: string;
  /** The broker, without credentials. */
  broker: string;
  topic: string;
  sessionPresent: boolean | null;
  lastError: string | null;
  lastErrorAt: number | null;
  connects: number;
  /** PUBACKs held until their readings commit, now and at most. */
  heldAcks: number;
  maxHeldAcks: number;
}

const zeroOutcomes = () =>
  Object.fromEntries(PUBLISH_OUTCOMES.map((o) => [o, 0])) as Record<PublishOutcomeKind, number>;

/** Counters of MQTT ingest, read by /healthz and /metrics. */
export class MqttStats {
  publishes: Record<PublishSource, Record<PublishOutcomeKind, number>> = {
    listener: zeroOutcomes(),
    bridge: zeroOutcomes(),
  };
  /** Readings committed, and refused by reason kind (`refusalKind`). */
  readingsAccepted = 0;
  readingsRefused: Record<string, number> = {};
  /** Open listener connections. */
  connections = 0;
  connects = Object.fromEntries(CONNECT_OUTCOMES.map((o) => [o, 0])) as Record<
    ConnectOutcome,
    number
  >;
  /** Connections dropped for a packet over --mqtt-max-packet. */
  tooLarge = 0;
  /** Publishes waiting for a rate limit token right now. */
  rateWaiting = 0;
  /** The listener's QoS 2 publishes awaiting PUBREL (packet ids held now, and forgotten over the cap). */
  qos2: { readonly size: number; readonly forgotten: number } | null = null;
  bridge: BridgeHealth | null = null;
}
