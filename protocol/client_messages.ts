import * as flatbuffers from "flatbuffers";
// Messages a client sends (Subscribe, Unsubscribe, Auth, Pong): encoded here
// by every client, decoded (after verification) here by the server.
import {
  Auth,
  Body,
  Envelope,
  Pong,
  Subscribe,
  Subscription,
  Unsubscribe,
} from "./schema_generated.ts";
import { FlatBufferVerifier } from "./verifier.ts";

/** One subscription as the client sent it (checked for structure, not meaning). */
export interface SubscriptionRequest {
  id: number;
  all: boolean;
  group: string | null;
  sensors: string[];
}

/** One subscription as a client asks for it: everything, a group prefix, or sensor ids. */
export interface SubscriptionSpec {
  id: number;
  all?: boolean;
  group?: string;
  sensors?: readonly string[];
}

/** What a client may send, after verification. */
export type ClientMessage =
  | { type: "pong"; nonce: number }
  | {
    type: "subscribe";
    subscriptions: SubscriptionRequest[];
    resume: { epoch: number; seq: number } | null;
    /** Replace the session's subscriptions instead of adding to them. */
    replace: boolean;
    /** Also send per-sensor event-time windows. */
    windows: boolean;
  }
  | { type: "unsubscribe"; ids: number[] }
  | { type: "auth"; token: string };

/** Bounds that keep one message's work small. */
const MAX_SUBSCRIPTIONS = 64;
const MAX_IDS = 4096;

/**
 * The largest message a client may send, in bytes, counted across a
 * message's fragments (1009 beyond). It holds the largest messages the
 * protocol has: an `Auth` with a token as long as the 16 KiB the
 * `bearer.<jwt>` header path allows, 64 group subscriptions of the longest
 * group path (about 10 KiB), or a list of about 1,400 sensor ids of 32
 * characters. Longer id lists are what group prefixes are for.
 */
export const MAX_CLIENT_MESSAGE_BYTES = 64 * 1024;

/**
 * Verifies an inbound Envelope and returns its message. Throws a TypeError
 * for anything malformed or for a body type a client may not send.
 */
export function decodeClientMessage(input: Uint8Array): ClientMessage {
  const bytes = input.byteOffset % 8 === 0 ? input : input.slice();
  const v = new FlatBufferVerifier(bytes, { maxDepth: 4, maxTables: 2 * MAX_SUBSCRIPTIONS + 4 });
  const root = v.root();
  const typeAt = v.field(root, 0, 1);
  const type = typeAt === 0 ? Body.NONE : bytes[typeAt];
  const envelope = () => Envelope.getRootAsEnvelope(new flatbuffers.ByteBuffer(bytes));
  switch (type) {
    case Body.Pong: {
      if (v.subTable(root, 1, (pos) => v.field(pos, 0, 4)) === 0) {
        throw new TypeError("Invalid message: Pong without a body");
      }
      return { type: "pong", nonce: (envelope().body(new Pong()) as Pong).nonce() };
    }
    case Body.Subscribe: {
      const found = v.subTable(root, 1, (pos) => {
        const count = v.tableVector(pos, 0, (sub) => {
          v.field(sub, 0, 4);
          v.field(sub, 1, 1);
          v.string(sub, 2);
          if (v.stringVector(sub, 3) > MAX_IDS) {
            throw new TypeError(
              `Invalid message: a subscription lists more than ${MAX_IDS} sensors`,
            );
          }
        });
        if (count > MAX_SUBSCRIPTIONS) {
          throw new TypeError(`Invalid message: more than ${MAX_SUBSCRIPTIONS} subscriptions`);
        }
        v.field(pos, 1, 1);
        v.field(pos, 2, 4);
        v.field(pos, 3, 8);
        v.field(pos, 4, 1);
        v.field(pos, 5, 1);
      });
      if (found === 0) throw new TypeError("Invalid message: Subscribe without a body");
      const message = envelope().body(new Subscribe()) as Subscribe;
      const subscriptions: SubscriptionRequest[] = [];
      const sub = new Subscription();
      for (let i = 0; i < message.subscriptionsLength(); i++) {
        message.subscriptions(i, sub);
        const sensors: string[] = [];
        for (let k = 0; k < sub.sensorsLength(); k++) sensors.push(sub.sensors(k));
        subscriptions.push({ id: sub.id(), all: sub.all(), group: sub.group(), sensors });
      }
      return {
        type: "subscribe",
        subscriptions,
        resume: message.resume()
          ? { epoch: message.resumeEpoch(), seq: Number(message.resumeSeq()) }
          : null,
        replace: message.replace(),
        windows: message.windows(),
      };
    }
    case Body.Unsubscribe: {
      let count = 0;
      if (v.subTable(root, 1, (pos) => (count = v.vector(pos, 0, 4))) === 0) {
        throw new TypeError("Invalid message: Unsubscribe without a body");
      }
      if (count > MAX_SUBSCRIPTIONS) {
        throw new TypeError("Invalid message: too many ids to unsubscribe");
      }
      const message = envelope().body(new Unsubscribe()) as Unsubscribe;
      return { type: "unsubscribe", ids: Array.from(message.idsArray() ?? []) };
    }
    case Body.Auth: {
      let length = -1;
      if (v.subTable(root, 1, (pos) => (length = v.string(pos, 0))) === 0 || length <= 0) {
        throw new TypeError("Invalid message: Auth without a token");
      }
      return { type: "auth", token: (envelope().body(new Auth()) as Auth).token()! };
    }
    case Body.NONE:
      throw new TypeError("Invalid message: envelope has no body");
    default:
      throw new TypeError(
        `Invalid message: a client may not send ${Body[type] ?? `body type ${type}`}`,
      );
  }
}

// Encoding. Small messages, one builder reused; each result is a copy.
const builder = new flatbuffers.Builder(1024);

function finish(type: Body, body: flatbuffers.Offset): Uint8Array<ArrayBuffer> {
  builder.finish(Envelope.createEnvelope(builder, type, body), "PLSB");
  return builder.asUint8Array().slice() as Uint8Array<ArrayBuffer>;
}

/**
 * Encodes a Subscribe: add `subscriptions` (or `replace` them all), resuming
 * from `resume` (the last epoch and seq applied) when given; `windows` also
 * asks for per-sensor event-time windows.
 */
export function encodeSubscribe(
  subscriptions: readonly SubscriptionSpec[],
  resume: { epoch: number; seq: number } | null = null,
  replace = false,
  windows = false,
): Uint8Array<ArrayBuffer> {
  builder.clear();
  const offsets = subscriptions.map((s) => {
    const group = s.group === undefined ? 0 : builder.createString(s.group);
    const sensors = s.sensors === undefined
      ? 0
      : Subscription.createSensorsVector(builder, s.sensors.map((id) => builder.createString(id)));
    Subscription.startSubscription(builder);
    Subscription.addId(builder, s.id);
    Subscription.addAll(builder, s.all ?? false);
    if (group) Subscription.addGroup(builder, group);
    if (sensors) Subscription.addSensors(builder, sensors);
    return Subscription.endSubscription(builder);
  });
  const list = Subscribe.createSubscriptionsVector(builder, offsets);
  const body = Subscribe.createSubscribe(
    builder,
    list,
    resume !== null,
    resume?.epoch ?? 0,
    BigInt(resume?.seq ?? 0),
    replace,
    windows,
  );
  return finish(Body.Subscribe, body);
}

export function encodeAuth(token: string): Uint8Array<ArrayBuffer> {
  builder.clear();
  return finish(Body.Auth, Auth.createAuth(builder, builder.createString(token)));
}

export function encodeUnsubscribe(ids: readonly number[]): Uint8Array<ArrayBuffer> {
  builder.clear();
  return finish(
    Body.Unsubscribe,
    Unsubscribe.createUnsubscribe(builder, Unsubscribe.createIdsVector(builder, ids as number[])),
  );
}

export function encodePong(nonce: number): Uint8Array<ArrayBuffer> {
  builder.clear();
  return finish(Body.Pong, Pong.createPong(builder, nonce));
}
