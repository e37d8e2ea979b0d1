import * as flatbuffers from "flatbuffers";
import { Body, Envelope, Pong } from "./schema_generated.ts";
import { FlatBufferVerifier } from "./verifier.ts";

/** What a client may send, after verification. */
export type ClientMessage = { type: "pong"; nonce: number };

/**
 * Verifies an inbound Envelope and returns its message. Throws a TypeError
 * for anything malformed or for a body type a client may not send.
 */
export function decodeClientMessage(input: Uint8Array): ClientMessage {
  const bytes = input.byteOffset % 8 === 0 ? input : input.slice();
  const v = new FlatBufferVerifier(bytes, { maxDepth: 4, maxTables: 16 });
  const root = v.root();
  const typeAt = v.field(root, 0, 1);
  const type = typeAt === 0 ? Body.NONE : bytes[typeAt];
  switch (type) {
    case Body.Pong: {
      if (v.subTable(root, 1, (pos) => v.field(pos, 0, 4)) === 0) {
        throw new TypeError("Invalid message: Pong without a body");
      }
      const pong = Envelope.getRootAsEnvelope(new flatbuffers.ByteBuffer(bytes)).body(
        new Pong(),
      ) as Pong;
      return { type: "pong", nonce: pong.nonce() };
    }
    case Body.NONE:
      throw new TypeError("Invalid message: envelope has no body");
    default:
      throw new TypeError(
        `Invalid message: a client may not send ${Body[type] ?? `body type ${type}`}`,
      );
  }
}
