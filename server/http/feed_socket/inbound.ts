import { closeCodeFor } from "../errors.ts";
import { CloseCode } from "../../../protocol/close_codes.ts";
import { decodeClientMessage } from "../../../protocol/client_messages.ts";
import type { ClientMessage } from "../../../protocol/client_messages.ts";

/** A message read from a client, or why the connection is closed instead. */
export type Inbound = { message: ClientMessage } | { refuse: { code: number; reason: string } };

/**
 * Reads one inbound message (its size was capped by the transport as its
 * fragments came in): within the connection's message rate (4029), binary
 * (1003), and a client message that passes the verifier (4000).
 */
export function readInbound(
  data: Uint8Array,
  options: { binary: boolean; rate: { take(now: number): boolean }; now: number },
): Inbound {
  if (!options.rate.take(options.now)) {
    return { refuse: { code: CloseCode.RateLimited, reason: "too many messages: slow down" } };
  }
  if (!options.binary) {
    return {
      refuse: {
        code: CloseCode.UnsupportedData,
        reason: "text messages are not accepted: send binary FlatBuffers",
      },
    };
  }
  try {
    return { message: decodeClientMessage(data) };
  } catch (error) {
    return {
      refuse: { code: closeCodeFor(error), reason: (error as Error).message.slice(0, 120) },
    };
  }
}
