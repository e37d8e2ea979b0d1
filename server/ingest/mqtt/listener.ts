import { Aedes } from "aedes";
import type { Client } from "aedes";
import net from "node:net";
import { setImmediate } from "node:timers";
import tls from "node:tls";
import type { Socket } from "node:net";
import type { Writer } from "../../auth/mod.ts";
import { logger } from "../../ops/mod.ts";
import { ConnectionLimits } from "./connection_limits.ts";
import type { ConnectionLimitsOptions } from "./connection_limits.ts";
import { guardPacketSize } from "./packet_size_guard.ts";
import { OrderedAcks } from "./ordered_acks.ts";
import { Qos2Receipts } from "./qos2_receipts.ts";
import type { InboundPublish, IngestSession, PublishIngest } from "./publish_ingest.ts";
import type { PublishOutcome } from "./publish_ingest.ts";
import type { RetryStore } from "./retry_records.ts";
import { RetryWindow } from "./retry_window.ts";
import type { MqttStats } from "./stats.ts";

/** The API key store as the listener needs it (`ApiKeys`). */
export interface MqttKeys {
  /** True once any key was ever created: from then on every client needs one. */
  inUse(): Promise<boolean>;
  verify(presented: string): Promise<Writer | null>;
}

export interface ListenerOptions extends ConnectionLimitsOptions {
  host: string;
  /** Plain MQTT port (0: any free one), TLS port; null: not served. */
  port: number | null;
  tlsPort: number | null;
  tls: { cert: string; key: string } | null;
  maxPacketBytes: number;
  /** Time for a CONNECT (and a TLS handshake) to arrive. */
  connectTimeoutMs: number;
  /** How many of a connection's first publishes may be retries (the most a device keeps in flight). */
  retryWindow?: number;
  /** Pending connections the kernel queues (a connect storm overflows the default 511). */
  backlog?: number;
  /** QoS 2 packet ids awaiting PUBREL held over every connection (`Qos2Receipts`). Default 100,000. */
  maxQos2Unreleased?: number;
}

export interface MqttListener {
  /** Bound ports (null when not served). */
  port: number | null;
  tlsPort: number | null;
  /** Stops accepting, closes every client, and waits for publishes being committed. */
  close(): Promise<void>;
}

/** Per connection: its session, its line of PUBACKs, and what its limits are charged to. */
interface Connection {
  session: IngestSession;
  acks: OrderedAcks;
  address: string;
  keyId: string | null;
  /**
   * Holds the socket's writes until the end of this turn: a commit releases
   * many PUBACKs of one connection at once, and they go out in one write.
   */
  cork(): void;
}

/** Longest client id; it is part of the retry records' keys. */
const MAX_CLIENT_ID = 128;
/** At a stop, how long sockets get to close after aedes ended their clients. */
const CLOSE_GRACE_MS = 1_000;

/**
 * The embedded MQTT 3.1.1 listener (aedes 1.2 behind node:net and
 * node:tls), ingest only: wills are stripped, retain is forced off, every
 * subscription is refused (SUBACK 0x80). A QoS 1 publish is acknowledged
 * (PUBACK) only once its readings are durable: `authorizePublish` is the
 * hook aedes runs before it writes the PUBACK (or, for QoS 2, the PUBREC),
 * and aedes reads no more of a connection until all the packets of its last
 * read are done, so a held publish is backpressure on that device alone. An
 * MQTT 5 client gets CONNACK 0x01 (unacceptable protocol version) from aedes
 * 1.2, which libraries report as 0x84 / "unsupported protocol version".
 */
export async function startListener(
  deps: { ingest: PublishIngest; keys: MqttKeys; records: RetryStore; stats: MqttStats },
  options: ListenerOptions,
): Promise<MqttListener> {
  const { ingest, keys, records, stats } = deps;
  const limits = new ConnectionLimits(options);
  const connections = new WeakMap<Client, Connection>();
  const given = new WeakMap<Client, { clientId: string }>();
  const retryWindow = options.retryWindow ?? 1024;
  const receipts = new Qos2Receipts<Client>({
    max: options.maxQos2Unreleased ?? 100_000,
    // aedes counts a connection's QoS 2 publishes awaiting PUBREL against its
    // maxInflightInbound, and frees one only when its PUBREL finds it stored.
    onForget: (client, messageId) => inboundInflight(client)?.delete(messageId),
  });
  stats.qos2 = receipts;

  const broker = new Aedes({
    connectTimeout: options.connectTimeoutMs,
    // Nothing is published to subscribers: keep aedes's own $SYS chatter rare.
    heartbeatInterval: 3_600_000,
    preConnect(client, packet, callback) {
      // Ingest only: a will would arrive through authorizePublish as a reading when a device drops.
      packet.will = undefined;
      given.set(client, { clientId: packet.clientId ?? "" });
      callback(null, true);
    },
    authenticate(client, _username, password, callback) {
      authenticate(client, password).then(
        (refusal) => refusal ? callback(refusal as never, false) : callback(null, true),
        (error) => {
          logger.error("MQTT authentication failed", { error });
          callback(
            Object.assign(new Error("Server unavailable"), { returnCode: 3 }) as never,
            false,
          );
        },
      );
    },
    authorizePublish(client, packet, callback) {
      // aedes passes no client for wills it publishes itself; there are none (see preConnect).
      const connection = client ? connections.get(client) : undefined;
      if (!connection) return callback(new Error("Cannot publish: not connected"));
      // Retained messages would be kept in memory per topic.
      packet.retain = false;
      const slot = connection.acks.push(callback);
      if (packet.qos === 2 && receipts.has(client!, packet.messageId!)) {
        // Resent before its PUBREL (the PUBREC was lost): its readings are stored, aedes sends
        // the PUBREC again [MQTT-4.3.3-2]. On the next turn, as for any answer given at once.
        stats.publishes.listener.duplicate++;
        setImmediate(() => connection.acks.settle(slot, null));
        return;
      }
      const publish = packet as unknown as InboundPublish;
      const settle = (outcome: PublishOutcome) => {
        connection.cork();
        connection.acks.settle(slot, refusal(outcome));
      };
      const wait = limits.publishDelay(connection.address, connection.keyId, Date.now());
      if (wait === 0) {
        // A refused publish (bad topic or payload, outside the key's groups) is
        // settled at once, inside aedes's parse of the socket's read. Answering
        // aedes there makes it read the socket again re-entrantly, and on Deno the
        // stream is then left holding up to 64 KiB with no read in flight and no
        // 'readable' to come: the connection stalls until the client sends more.
        // A microtask or nextTick is not late enough (checked); the next turn of
        // the event loop is, as for publishes answered by a commit.
        let inline = true;
        ingest.handle(connection.session, publish, (outcome) => {
          if (inline) setImmediate(settle, outcome);
          else settle(outcome);
        });
        inline = false;
        return;
      }
      stats.rateWaiting++;
      setTimeout(() => {
        stats.rateWaiting--;
        ingest.handle(connection.session, publish, settle);
      }, wait);
    },
    authorizeSubscribe(_client, _subscription, callback) {
      // Ingest only: SUBACK 0x80 (an error here would drop the connection instead).
      callback(null, null);
    },
  });

  /** Checks the client id and the key; returns the CONNACK refusal, or null. */
  async function authenticate(client: Client, password: Buffer | undefined): Promise<Error | null> {
    const { clientId } = given.get(client) ?? { clientId: "" };
    const refuse = (message: string, returnCode: number) =>
      Object.assign(new Error(message), { returnCode });
    if (clientId.length > MAX_CLIENT_ID) {
      stats.connects.bad_client_id++;
      return refuse(`client id longer than ${MAX_CLIENT_ID} characters`, 2);
    }
    let writer: Writer | null = null;
    if (await keys.inUse()) {
      const presented = password ? new TextDecoder().decode(password) : "";
      writer = presented ? await keys.verify(presented) : null;
      if (!writer) {
        stats.connects.bad_key++;
        return refuse("bad user name or password: give an API key as the password", 4);
      }
    }
    const conn = client.conn as unknown as Socket;
    if (writer) {
      if (!limits.admitKey(writer.id, Date.now())) {
        stats.connects.over_key++;
        return refuse(`key ${writer.id} is over its connection limit or rate`, 3);
      }
      const keyId = writer.id;
      conn.once("close", () => limits.releaseKey(keyId));
    }
    const scope = writer?.id ?? "";
    // Client ids are per key: one key's devices cannot take over (disconnect) another's sessions.
    if (scope) client.id = `${scope}:${client.id}`;
    const persistent = !client.clean && clientId !== "";
    // Lookups only when an earlier connection of this session left records: a
    // fresh session, or one that disconnected cleanly, has no retries to find.
    const { epoch, resumed } = persistent
      ? await records.open(scope, clientId)
      : { epoch: 0, resumed: false };
    const address = conn.remoteAddress ?? "unknown";
    connections.set(client, {
      session: {
        source: "listener",
        scope,
        clientId,
        peer: address,
        persistent,
        epoch,
        writer,
        window: new RetryWindow({ firstPublishes: resumed ? retryWindow : 0 }),
      },
      acks: new OrderedAcks(),
      address,
      keyId: writer?.id ?? null,
      cork: corker(conn),
    });
    // A clean session starts without state [MQTT-3.1.2-6]: its old retry records go.
    if (client.clean && clientId !== "") forget(scope, clientId);
    stats.connects.accepted++;
    return null;
  }

  function forget(scope: string, clientId: string): void {
    records.forget(scope, clientId).catch((error) =>
      logger.error("MQTT retry records not forgotten", { clientId, error })
    );
  }

  broker.on("clientDisconnect", (client) => {
    const connection = connections.get(client);
    // A DISCONNECT packet means the client has its PUBACKs: its records are no
    // longer needed, and a device that restarts its packet ids must not match them.
    if (connection?.session.persistent && (client as { _disconnected?: boolean })._disconnected) {
      const { scope, clientId } = connection.session;
      connection.acks.idle().then(() => ingest.idle()).then(() => forget(scope, clientId));
    }
  });
  broker.on("clientError", (client, error) => {
    logger.debug("MQTT client error", { clientId: client?.id, error: error.message });
  });
  broker.on("connectionError", (_client, error) => {
    logger.debug("MQTT connection error", { error: error.message });
  });

  /** Sockets admitted and not yet closed: a stop destroys those that outstay it. */
  const open = new Set<Socket>();

  /** At accept: the limits per address and in all, before aedes spends anything on it. */
  function admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? "unknown";
    const verdict = limits.admitAddress(address, Date.now());
    if (verdict !== "ok") {
      stats.connects[verdict]++;
      socket.destroy();
      return false;
    }
    stats.connections = limits.open;
    open.add(socket);
    socket.once("close", () => {
      open.delete(socket);
      limits.releaseAddress(address);
      stats.connections = limits.open;
    });
    return true;
  }

  let guardMissing = false;
  function attach(socket: Socket): void {
    const client = broker.handle(socket as never);
    // A session's QoS 2 receipts end with its connection (see keepQos2Receipts).
    socket.once("close", () => receipts.drop(client));
    const guarded = guardPacketSize(client, socket, {
      maxBytes: options.maxPacketBytes,
      onTooLarge: () => stats.tooLarge++,
    });
    if (!guarded && !guardMissing) {
      guardMissing = true;
      logger.error("MQTT connections refused: aedes's parser was not found (its version changed?)");
    }
  }

  // Ingest only: nothing is ever delivered to a subscriber (there are none), so
  // aedes's routing of each publish (its matcher, offline queues, retained
  // store) is skipped. aedes calls this after the PUBACK, with (packet,
  // client, done) for a client's publish and (packet, done) for its own.
  broker.publish = ((_packet: unknown, client: unknown, done?: (error?: Error) => void) => {
    const callback = typeof client === "function" ? client : done;
    callback?.();
  }) as typeof broker.publish;

  await broker.listen();
  keepQos2Receipts((broker as unknown as { persistence: IncomingStore }).persistence, receipts);
  const servers: net.Server[] = [];
  const backlog = options.backlog ?? 4096;
  const listen = (server: net.Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ port, host: options.host, backlog }, () => {
        server.off("error", reject);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  let port: number | null = null;
  let tlsPort: number | null = null;
  try {
    if (options.port !== null) {
      const server = net.createServer((socket) => admit(socket) && attach(socket));
      servers.push(server);
      port = await listen(server, options.port);
    }
    if (options.tlsPort !== null) {
      if (!options.tls) throw new TypeError("The MQTT TLS listener needs a certificate and key");
      const server = tls.createServer({
        cert: options.tls.cert,
        key: options.tls.key,
        handshakeTimeout: options.connectTimeoutMs,
      }, attach);
      // Counted at TCP accept, so a flood of handshakes is capped too.
      server.on("connection", admit);
      server.on(
        "tlsClientError",
        (error) => logger.debug("MQTT TLS error", { error: error.message }),
      );
      servers.push(server);
      tlsPort = await listen(server, options.tlsPort);
    }
  } catch (error) {
    for (const server of servers) server.close();
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw error;
  }
  const sweeper = setInterval(() => limits.sweep(Date.now()), 10_000);

  let closing: Promise<void> | null = null;
  return {
    port,
    tlsPort,
    close: () =>
      closing ??= (async () => {
        clearInterval(sweeper);
        const closed = servers.map((server) => new Promise((resolve) => server.close(resolve)));
        await new Promise<void>((resolve) => broker.close(() => resolve()));
        // aedes ends each client; sockets that are slow to go (a loaded machine, a
        // peer that never reads) are destroyed, so a stop stays bounded.
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<void>((resolve) => timer = setTimeout(resolve, CLOSE_GRACE_MS));
        await Promise.race([Promise.all(closed), late]);
        clearTimeout(timer);
        for (const socket of open) socket.destroy();
        await Promise.all(closed);
        await ingest.idle();
      })(),
  };
}

/** The part of aedes's persistence that keeps a client's incoming QoS 2 publishes until PUBREL. */
interface IncomingStore {
  incomingStorePacket(client: Client, packet: { messageId?: number }): Promise<void>;
  incomingGetPacket(client: Client, packet: { messageId?: number }): Promise<unknown>;
  incomingDelPacket(client: Client, packet: { messageId?: number }): Promise<void>;
  cleanIncoming?(client: Client): Promise<void>;
}

/**
 * aedes's in-memory persistence keeps each QoS 2 PUBLISH, payload and all,
 * per client id until its PUBREL or a clean session, with no overall bound:
 * devices that never send PUBREL and reconnect with the same id (1,000
 * publishes per connection) grow it forever. Here a publish's readings are
 * committed before its PUBREC and a resent publish is recognised by its retry
 * record, so only the packet id is kept (to answer a resend on the same
 * connection, and for aedes's count of publishes awaiting PUBREL), by
 * connection, within `receipts`' bound. A PUBREL that finds nothing (after a
 * reconnect) still gets its PUBCOMP: aedes sends it either way.
 */
function keepQos2Receipts(store: IncomingStore, receipts: Qos2Receipts<Client>): void {
  const noSuchPacket = () => new Error("no such packet");
  store.incomingStorePacket = (client, packet) => {
    receipts.add(client, packet.messageId!);
    return Promise.resolve();
  };
  store.incomingGetPacket = (client, packet) =>
    receipts.has(client, packet.messageId!)
      ? Promise.resolve(packet)
      : Promise.reject(noSuchPacket());
  store.incomingDelPacket = (client, packet) =>
    receipts.delete(client, packet.messageId!) ? Promise.resolve() : Promise.reject(noSuchPacket());
  store.cleanIncoming = (client) => {
    receipts.drop(client);
    return Promise.resolve();
  };
}

/** aedes's own count, per connection, of QoS 2 publishes awaiting PUBREL (`maxInflightInbound`). */
function inboundInflight(client: Client): Set<number> | undefined {
  return (client as unknown as { _inboundInflight?: Set<number> })._inboundInflight;
}

/** Corks `socket` at most once per turn and uncorks it once the turn's work is done. */
function corker(socket: Socket): () => void {
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  return () => {
    if (corked) return;
    corked = true;
    socket.cork();
    // aedes writes the PUBACK synchronously in the callback; a commit settles its whole batch in one loop.
    queueMicrotask(uncork);
  };
}

/**
 * The error aedes gets for a publish: none (PUBACK) for readings stored, a
 * retry, or a bad topic or payload (counted and logged; MQTT 3.1.1 can only
 * refuse by closing the connection, and the device would resend it forever);
 * an error (the connection is closed) for a topic outside the key's groups
 * or a failed commit (the device resends it after reconnecting).
 */
function refusal(outcome: PublishOutcome): Error | null {
  switch (outcome.kind) {
    case "accepted":
    case "duplicate":
    case "invalid":
      return null;
    case "not_allowed":
      return new Deno.errors.PermissionDenied(outcome.reason);
    case "failed":
      return outcome.error;
  }
}
