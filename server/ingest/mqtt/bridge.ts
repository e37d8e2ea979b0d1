import mqtt from "mqtt";
import type { IClientOptions, MqttClient } from "mqtt";
import { logger } from "../../ops/mod.ts";
import { OrderedAcks } from "./ordered_acks.ts";
import type { InboundPublish, IngestSession, PublishIngest } from "./publish_ingest.ts";
import type { PublishOutcome } from "./publish_ingest.ts";
import { RetryWindow } from "./retry_window.ts";
import type { BridgeHealth, MqttStats } from "./stats.ts";

export interface BridgeOptions {
  /** mqtt:// or mqtts:// (no credentials in it). */
  url: string;
  /** Topic filter to subscribe to, at QoS 1. */
  topic: string;
  clientId: string;
  /** PEM CA certificate(s) for mqtts:// brokers with a private CA. */
  ca?: string;
  username?: string;
  password?: string;
  /**
   * Most PUBACKs held until their readings commit; past it the bridge stops
   * reading. Also advertised as MQTT 5 Receive Maximum (Mosquitto floods
   * thousands of queued messages at a session resume otherwise). Default 1000.
   */
  maxHeldAcks?: number;
  /**
   * Largest packet the broker may send (MQTT 5 Maximum Packet Size; it drops
   * larger publishes for this client): any publisher to the broker could
   * otherwise have the server read a 256 MB message whole. `--mqtt-max-packet`.
   */
  maxPacketBytes?: number;
  connectTimeoutMs?: number;
}

export interface MqttBridge {
  /** Stops taking messages, acknowledges those being committed, and disconnects. */
  close(): Promise<void>;
}

/** A PUBACK mqtt.js wanted to send, held until its publish's readings are durable. */
interface Hold {
  stream: unknown;
  puback: { cmd: "puback"; messageId: number; reasonCode?: number } | null;
  outcome: PublishOutcome | null;
}

interface InternalClient {
  stream: unknown;
  _sendPacket(
    packet: { cmd: string; messageId?: number },
    cb?: () => void,
    ...rest: unknown[]
  ): void;
}

const PAYLOAD_FORMAT_INVALID = 0x99;
const RECONNECT_MIN_MS = 1_000;
const RECONNECT_MAX_MS = 30_000;

/**
 * Subscribes to an existing broker with a persistent session (MQTT 5, clean
 * start off, a session that never expires, a stable client id), so QoS 1
 * messages published while Pulseboard was down arrive once it is back.
 *
 * Each PUBACK is sent only once the message's readings are durable, yet
 * messages share group commits: mqtt.js handles incoming packets one at a
 * time and sends the PUBACK when `handleMessage` calls back, which would be
 * one commit per message (about 280/s). So `handleMessage` calls back at
 * once and the PUBACK itself is held, by wrapping mqtt.js's private
 * `_sendPacket` (mqtt is pinned; tests/mqtt_bridge_test.ts kills the server
 * mid-stream and fails if acknowledged messages go missing or count twice).
 * A PUBACK held for an earlier connection is dropped: the broker redelivers
 * that message with DUP set and its retry record acknowledges it.
 */
export function startBridge(
  deps: { ingest: PublishIngest; stats: MqttStats },
  options: BridgeOptions,
): MqttBridge {
  const { ingest, stats } = deps;
  const maxHeld = options.maxHeldAcks ?? 1000;
  const url = new URL(options.url);
  const health: BridgeHealth = stats.bridge = {
    state: "connecting",
    connected: false,
    clientId: options.clientId,
    broker: `${url.protocol}//${url.host}`,
    topic: options.topic,
    sessionPresent: null,
    lastError: null,
    lastErrorAt: null,
    connects: 0,
    heldAcks: 0,
    maxHeldAcks: 0,
  };
  const clientOptions: IClientOptions = {
    clientId: options.clientId,
    clean: false,
    protocolVersion: 5,
    // Without it an MQTT 5 session ends at disconnect, and nothing queues while we are down.
    properties: {
      sessionExpiryInterval: 0xffffffff,
      receiveMaximum: maxHeld,
      ...(options.maxPacketBytes ? { maximumPacketSize: options.maxPacketBytes } : {}),
    },
    reconnectPeriod: RECONNECT_MIN_MS,
    connectTimeout: options.connectTimeoutMs ?? 10_000,
    keepalive: 30,
    resubscribe: false,
    ...(options.ca ? { ca: options.ca } : {}),
    ...(options.username !== undefined ? { username: options.username } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
  };
  const client: MqttClient = mqtt.connect(options.url, clientOptions);
  const internal = client as unknown as InternalClient;
  const held = new Map<number, Hold>();
  const roomWaiters: (() => void)[] = [];
  let session = newSession();
  let acks = new OrderedAcks();
  let stopping = false;

  function newSession(): IngestSession {
    return {
      source: "bridge",
      scope: "bridge",
      clientId: options.clientId,
      persistent: true,
      // The bridge never forgets its session's records: one epoch.
      epoch: 0,
      writer: null,
      // Mosquitto sets DUP on a redelivery: only those can be retries.
      window: new RetryWindow({ firstPublishes: 0, dupOnly: true }),
    };
  }

  const send = internal._sendPacket.bind(internal);
  internal._sendPacket = (packet, cb, ...rest) => {
    const hold = packet.cmd === "puback" ? held.get(packet.messageId!) : undefined;
    if (!hold || hold.puback) return send(packet, cb, ...rest);
    hold.puback = packet as Hold["puback"];
    if (hold.outcome) release(packet.messageId!, hold);
    // mqtt.js goes on to the next PUBLISH now; the PUBACK goes out after the commit.
    cb?.();
  };

  function release(messageId: number, hold: Hold): void {
    if (held.get(messageId) === hold) held.delete(messageId);
    health.heldAcks = held.size;
    const outcome = hold.outcome!;
    if (hold.stream === internal.stream && client.connected) {
      if (outcome.kind === "failed") {
        // Not durable: no PUBACK. Reconnect, so the broker redelivers it.
        (internal.stream as { destroy?: () => void }).destroy?.();
      } else {
        const puback = outcome.kind === "invalid"
          ? { ...hold.puback!, reasonCode: PAYLOAD_FORMAT_INVALID }
          : hold.puback!;
        send(puback, () => {});
      }
    }
    while (held.size < maxHeld && roomWaiters.length > 0) roomWaiters.shift()!();
  }

  client.handleMessage = (packet, callback) => {
    if (stopping) return; // taken after a restart instead: never acknowledged
    const publish = packet as unknown as InboundPublish;
    if (packet.qos === 0 || packet.messageId === undefined) {
      ingest.handle(session, publish, () => {});
      return callback();
    }
    const messageId = packet.messageId;
    const hold: Hold = { stream: internal.stream, puback: null, outcome: null };
    held.set(messageId, hold);
    health.heldAcks = held.size;
    health.maxHeldAcks = Math.max(health.maxHeldAcks, held.size);
    // PUBACKs go out in PUBLISH order [MQTT-4.6.0-2], whatever order commits and lookups finish in.
    const slot = acks.push(() => {
      if (hold.puback) release(messageId, hold);
    });
    ingest.handle(session, publish, (outcome) => {
      hold.outcome = outcome;
      acks.settle(slot);
    });
    if (held.size < maxHeld) callback();
    else roomWaiters.push(() => callback());
  };

  let reconnectMs = RECONNECT_MIN_MS;
  client.on("connect", (connack) => {
    health.state = "connected";
    health.connected = true;
    health.connects++;
    health.sessionPresent = connack.sessionPresent;
    session = newSession();
    acks = new OrderedAcks();
    reconnectMs = RECONNECT_MIN_MS;
    client.options.reconnectPeriod = reconnectMs;
    logger.info("MQTT bridge connected", {
      broker: health.broker,
      clientId: options.clientId,
      sessionPresent: connack.sessionPresent,
    });
    if (connack.sessionPresent) return;
    // Retain Handling 2: no retained messages at the subscribe. A new subscription
    // (a broker that lost the session, a new client id) had them all sent again:
    // those stored live came twice, and one without a timestamp became a new
    // reading of a stale value. Live publishes still come, retained or not.
    client.subscribe(options.topic, { qos: 1, rh: 2 }, (error, granted) => {
      const refused = granted?.find((g) => g.qos > 2);
      if (error || refused) {
        noteError(
          error ?? new Error(`Cannot subscribe to ${options.topic}: refused by the broker`),
        );
      }
    });
  });
  client.on("reconnect", () => {
    health.state = "reconnecting";
    // Exponential backoff: the next wait doubles, up to 30 s.
    reconnectMs = Math.min(RECONNECT_MAX_MS, reconnectMs * 2);
    client.options.reconnectPeriod = reconnectMs;
  });
  client.on("close", () => {
    if (health.connected) logger.warn("MQTT bridge disconnected", { broker: health.broker });
    health.connected = false;
    if (!stopping && health.state === "connected") health.state = "reconnecting";
  });
  client.on("error", noteError);

  function noteError(error: Error): void {
    // Logged once per distinct message, so a broker that stays down does not flood the log.
    if (error.message !== health.lastError) {
      logger.warn("MQTT bridge error", { broker: health.broker, error: error.message });
    }
    health.lastError = error.message;
    health.lastErrorAt = Date.now();
  }

  return {
    close: async () => {
      stopping = true;
      // What was taken is committed and acknowledged before the session is left.
      await ingest.idle();
      await acks.idle();
      health.state = "stopped";
      await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
    },
  };
}
