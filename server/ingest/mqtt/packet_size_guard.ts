import type { Socket } from "node:net";

/** Bytes of a packet with `remaining` bytes after its fixed header. */
export function packetSize(remaining: number): number {
  const lengthBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
  return 1 + lengthBytes + remaining;
}

interface Parser {
  packet?: { length: number };
  parse(buf: Uint8Array): number;
  listeners(event: "packet"): ((packet: { length: number }) => void)[];
  removeAllListeners(event: "packet"): void;
  on(event: "packet", listener: (packet: { length: number }) => void): void;
}

/**
 * Drops a connection as soon as it announces a packet over `maxBytes`:
 * aedes 1.2 has no such limit, and its parser (mqtt-packet) would buffer a
 * declared length of up to 256 MB. MQTT 3.1.1 has no way to say why, so the
 * connection is closed. This reaches into aedes's private `_parser` (aedes is
 * pinned; tests/mqtt_listener_test.ts fails if it stops working): once a
 * parse has read a fixed header its declared length is known, before the
 * body arrives; a packet parsed whole within one read is checked before it
 * is handled. Returns false (and closes) when the parser is not found.
 */
export function guardPacketSize(
  client: unknown,
  conn: Socket,
  options: { maxBytes: number; onTooLarge: () => void },
): boolean {
  const parser = (client as { _parser?: Parser })._parser;
  const [handle] = parser?.listeners?.("packet") ?? [];
  if (!parser || typeof parser.parse !== "function" || !handle) {
    conn.destroy();
    return false;
  }
  const { maxBytes, onTooLarge } = options;
  let tooLarge = false;
  const refuse = () => {
    if (tooLarge) return;
    tooLarge = true;
    onTooLarge();
    conn.destroy();
  };
  parser.removeAllListeners("packet");
  parser.on("packet", function (this: unknown, packet) {
    if (tooLarge) return;
    if (packetSize(packet.length) > maxBytes) return refuse();
    handle.call(this, packet);
  });
  const parse = parser.parse;
  parser.parse = function (this: Parser, buf: Uint8Array) {
    if (tooLarge) return 0;
    const left = parse.call(this, buf);
    const pending = this.packet?.length ?? -1;
    if (pending >= 0 && packetSize(pending) > maxBytes) refuse();
    return left;
  };
  return true;
}
