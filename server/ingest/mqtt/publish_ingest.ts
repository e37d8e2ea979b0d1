import type { FleetLimit } from "../fleet_limit.ts";
import type { SensorGroups } from "../sensor_groups.ts";
import { DEFAULT_GROUP, refusalKind } from "../readings/mod.ts";
import type { ReadingLimits, Refusal } from "../readings/mod.ts";
import { groupAllowed } from "../../auth/mod.ts";
import type { Writer } from "../../auth/mod.ts";
import { logger } from "../../ops/mod.ts";
import { parseTopic } from "./topic.ts";
import type { TopicTarget } from "./topic.ts";
import { TopicCache } from "./topic_cache.ts";
import { addPayload } from "./payload.ts";
import { fingerprint } from "./fingerprint.ts";
import type { GroupCommit } from "./group_commit.ts";
import type { RetryStore } from "./retry_records.ts";
import type { RetryWindow } from "./retry_window.ts";
import type { MqttStats, PublishSource } from "./stats.ts";
import { Throttle } from "./throttle.ts";

/** One MQTT session as ingest sees it (a listener connection, or the bridge's). */
export interface IngestSession {
  readonly source: PublishSource;
  /** Whose client ids these are: the API key's id, "" for open ingest, "bridge". */
  readonly scope: string;
  /** The client id the client sent. */
  readonly clientId: string;
  /** The client's address, for logs. */
  readonly peer?: string;
  /**
   * Clean session off (and a client id of its own): the client resends
   * unacknowledged publishes after a reconnect, so its QoS 1 and 2
   * publishes get retry records and its retries are looked up.
   */
  readonly persistent: boolean;
  /** The session's epoch in the retry records (`RetryStore.open`). */
  readonly epoch: number;
  /** The API key; null when ingest is open (or for the bridge). */
  readonly writer: Writer | null;
  readonly window: RetryWindow;
  /** The last topic accepted for this session: devices publish to one topic over and over. */
  lastTopic?: string;
  lastTarget?: TopicTarget;
}

/** A PUBLISH as the MQTT library hands it over. */
export interface InboundPublish {
  topic: string;
  payload: Uint8Array;
  qos: 0 | 1 | 2;
  /** The packet id (QoS 1 and 2). */
  messageId?: number;
  dup: boolean;
}

export type PublishOutcome =
  | { kind: "accepted"; readings: number; refused: readonly Refusal[] }
  | { kind: "duplicate" }
  | { kind: "invalid"; reason: string }
  | { kind: "not_allowed"; reason: string }
  | { kind: "failed"; error: Error };

/** Why a publish's topic is refused. */
type TopicRefusal = Extract<PublishOutcome, { kind: "invalid" | "not_allowed" }>;

export interface PublishIngestOptions {
  limits: ReadingLimits;
  /** Most readings in one IngestBatch payload. */
  maxBatchReadings: number;
  /** The fleet's caps on sensors and metric names; without it, none. */
  fleet?: FleetLimit;
  /** The groups sensors are in: a key may not write another group's sensor. Without it, unchecked. */
  groups?: SensorGroups;
  /** Bytes the cache of accepted topics may hold (`TopicCache`). Default 16 MiB. */
  topicCacheBytes?: number;
  now?: () => number;
}

interface InFlight {
  fingerprint: number;
  /** Retries that arrived while the original was being committed. */
  waiters: ((outcome: PublishOutcome) => void)[];
}

const DUPLICATE: PublishOutcome = Object.freeze({ kind: "duplicate" });

/**
 * The ingest of one PUBLISH, shared by the listener and the bridge: topic →
 * (group, sensor), the key's groups, the payload by the HTTP rules, then one
 * shared group commit. A retry of a publish already committed (same session,
 * packet id and fingerprint) is recognised (from its retry record, or while
 * its original is still being committed) and acknowledged without storing it
 * again. Outcomes are counted, and refusals logged with their topic (at most
 * once a minute per client).
 */
export class PublishIngest {
  readonly #commit: GroupCommit;
  readonly #records: RetryStore;
  readonly #stats: MqttStats;
  readonly #limits: ReadingLimits;
  readonly #maxBatch: number;
  readonly #fleet: FleetLimit | undefined;
  readonly #groups: SensorGroups | undefined;
  readonly #now: () => number;
  readonly #inFlight = new Map<string, InFlight>();
  /** Topics accepted lately and what they name: a fleet publishes to a bounded set of topics. */
  readonly #topics: TopicCache;
  readonly #invalidLog = new Throttle({ intervalMs: 60_000 });
  readonly #refusedLog = new Throttle({ intervalMs: 3_600_000 });

  constructor(
    deps: { commit: GroupCommit; records: RetryStore; stats: MqttStats },
    options: PublishIngestOptions,
  ) {
    this.#commit = deps.commit;
    this.#records = deps.records;
    this.#stats = deps.stats;
    this.#limits = options.limits;
    this.#maxBatch = options.maxBatchReadings;
    this.#fleet = options.fleet;
    this.#groups = options.groups;
    this.#now = options.now ?? Date.now;
    this.#topics = new TopicCache({ maxBytes: options.topicCacheBytes });
  }

  /** Ingests one publish; `done` gets its outcome once it is settled (durable, or refused). */
  handle(session: IngestSession, publish: InboundPublish, done: (o: PublishOutcome) => void): void {
    const receivedAt = this.#now();
    const finish = (outcome: PublishOutcome) => {
      this.#count(session, publish.topic, outcome);
      done(outcome);
    };
    const target = this.#target(session, publish.topic);
    if ("kind" in target) return finish(target);
    if (this.#groups && !this.#groups.mayJudge(session.writer)) {
      // Not acknowledged: the connection closes and the device sends it again.
      return finish({
        kind: "failed",
        error: new Deno.errors.Busy(
          "the server is still reading its log, so it cannot tell which group each sensor is in yet",
        ),
      });
    }
    const { messageId } = publish;
    if (!session.persistent || publish.qos === 0 || messageId === undefined) {
      return this.#ingest(
        publish,
        { target, receivedAt, retry: null, writer: session.writer },
        finish,
      );
    }
    const key = this.#records.key(session.scope, session.clientId, session.epoch, messageId);
    const print = fingerprint(publish.topic, publish.payload);
    const flightKey = `${session.scope}\0${session.clientId}\0${messageId}`;
    const flying = this.#inFlight.get(flightKey);
    if (flying && flying.fingerprint === print) {
      // The retry overtook its original's commit (a reconnect mid-commit): same answer.
      flying.waiters.push((outcome) => finish(outcome.kind === "accepted" ? DUPLICATE : outcome));
      return;
    }
    const retry = { key, print, flightKey };
    if (!session.window.mayBeRetry(messageId, publish.dup)) {
      return this.#ingest(publish, { target, receivedAt, retry, writer: session.writer }, finish);
    }
    const flight: InFlight = { fingerprint: print, waiters: [] };
    this.#inFlight.set(flightKey, flight);
    this.#records.committed(key).then(
      (committed) => {
        if (committed !== print) {
          session.window.miss();
          return this.#ingest(
            publish,
            { target, receivedAt, retry, writer: session.writer },
            finish,
          );
        }
        this.#land(flightKey, flight, DUPLICATE);
        finish(DUPLICATE);
      },
      (error) => {
        const outcome: PublishOutcome = { kind: "failed", error };
        this.#land(flightKey, flight, outcome);
        finish(outcome);
      },
    );
  }

  /** The cache of accepted topics: its entries and the bytes they are charged. */
  get cachedTopics(): { entries: number; bytes: number } {
    return { entries: this.#topics.size, bytes: this.#topics.bytes };
  }

  /** Waits until every publish handed over so far is durable. */
  idle(): Promise<void> {
    return this.#commit.idle();
  }

  #ingest(
    publish: InboundPublish,
    { target, receivedAt, retry, writer }: {
      target: TopicTarget;
      receivedAt: number;
      retry: { key: Deno.KvKey; print: number; flightKey: string } | null;
      writer: Writer | null;
    },
    finish: (outcome: PublishOutcome) => void,
  ): void {
    let flight: InFlight | undefined;
    if (retry) {
      flight = this.#inFlight.get(retry.flightKey);
      if (!flight || flight.fingerprint !== retry.print) {
        flight = { fingerprint: retry.print, waiters: [] };
        this.#inFlight.set(retry.flightKey, flight);
      }
    }
    const land = (outcome: PublishOutcome) => {
      if (retry) this.#land(retry.flightKey, flight!, outcome);
      finish(outcome);
    };
    this.#commit.whenRoom((builder) => {
      let outcome;
      try {
        outcome = addPayload(builder, publish.payload, target, {
          limits: this.#limits,
          receivedAt,
          maxReadings: this.#maxBatch,
          fleet: this.#fleet,
          owner: this.#groups && writer ? { groups: this.#groups, writer } : undefined,
        });
      } catch (error) {
        // Busy: the groups or the fleet's names may be behind the log, so it cannot be
        // judged yet (nothing was added). Not acknowledged: the device sends it again.
        if (!(error instanceof Deno.errors.Busy)) throw error;
        return land({ kind: "failed", error });
      }
      const { accepted, refused } = outcome;
      if (accepted === 0) {
        this.#countRefused(refused);
        return land({ kind: "invalid", reason: refused[0]?.reason ?? "no readings" });
      }
      this.#commit.seal(
        retry ? this.#records.record(retry.key, retry.print) : null,
        (error) =>
          land(
            error ? { kind: "failed", error } : { kind: "accepted", readings: accepted, refused },
          ),
      );
    });
  }

  /** The original's outcome goes to the retries that waited for it. */
  #land(flightKey: string, flight: InFlight, outcome: PublishOutcome): void {
    if (this.#inFlight.get(flightKey) === flight) this.#inFlight.delete(flightKey);
    for (const waiter of flight.waiters) waiter(outcome);
  }

  /**
   * The topic's target, or why it is refused (a bad topic, or a group outside
   * the session's key). Only accepted topics are remembered, in the session
   * (its last one) and in the shared cache (within its bytes), so topics that
   * are refused, however long or many, hold no memory.
   */
  #target(session: IngestSession, topic: string): TopicTarget | TopicRefusal {
    if (session.lastTopic === topic) return session.lastTarget!;
    const cached = this.#topics.get(topic);
    const target = cached ?? parseTopic(topic, this.#limits);
    if (typeof target === "string") return { kind: "invalid", reason: target };
    if (session.writer && !groupAllowed(session.writer.groups, target.group || DEFAULT_GROUP)) {
      return {
        kind: "not_allowed",
        reason: `Cannot publish to ${topic}: group "${
          target.group || DEFAULT_GROUP
        }" is outside the key's groups`,
      };
    }
    if (cached === undefined) this.#topics.set(topic, target);
    session.lastTopic = topic;
    session.lastTarget = target;
    return target;
  }

  #countRefused(refused: readonly Refusal[]): void {
    for (const { reason } of refused) {
      // A payload that is no reading at all is malformed, as a bad HTTP body is.
      const kind = reason.startsWith("payload") ? "malformed" : refusalKind(reason);
      this.#stats.readingsRefused[kind] = (this.#stats.readingsRefused[kind] ?? 0) + 1;
    }
  }

  #count(session: IngestSession, topic: string, outcome: PublishOutcome): void {
    const stats = this.#stats;
    stats.publishes[session.source][outcome.kind]++;
    switch (outcome.kind) {
      case "accepted":
        stats.readingsAccepted += outcome.readings;
        if (outcome.refused.length > 0) {
          this.#countRefused(outcome.refused);
          this.#warn(this.#invalidLog, session, "MQTT batch readings refused", {
            topic,
            refused: outcome.refused.length,
            reason: outcome.refused[0].reason,
          });
        }
        return;
      case "invalid":
        if (!outcome.reason.startsWith("topic")) {
          // Payload refusals were counted by reading as they were found.
        } else stats.readingsRefused.topic = (stats.readingsRefused.topic ?? 0) + 1;
        this.#warn(this.#invalidLog, session, "MQTT publish refused: invalid", {
          topic,
          reason: outcome.reason,
        });
        return;
      case "not_allowed":
        this.#warn(this.#refusedLog, session, "MQTT publish refused: not allowed", {
          topic,
          reason: outcome.reason,
          keyId: session.writer?.id,
        });
        return;
      case "failed":
        if (outcome.error instanceof Deno.errors.Busy) {
          // Waiting for the log to be read (a start, a refill): expected, and every device
          // publishing meanwhile would log it.
          this.#warn(this.#invalidLog, session, "MQTT publish not taken yet", {
            topic,
            reason: outcome.error.message,
          });
          return;
        }
        logger.error("MQTT publish not committed", {
          topic,
          clientId: session.clientId,
          error: outcome.error,
        });
        return;
      case "duplicate":
        return;
      default:
        outcome satisfies never;
    }
  }

  #warn(
    throttle: Throttle,
    session: IngestSession,
    msg: string,
    fields: Record<string, unknown>,
  ): void {
    const skipped = throttle.pass(`${session.scope}\0${session.clientId}`, this.#now());
    if (skipped === null) return;
    logger.warn(msg, {
      source: session.source,
      clientId: session.clientId,
      ...(session.peer ? { peer: session.peer } : {}),
      ...fields,
      ...(skipped > 0 ? { sinceLastLogged: skipped } : {}),
    });
  }
}
