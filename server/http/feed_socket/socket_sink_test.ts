import { assertEquals } from "../../../tests/testing/assert.ts";
import { closeReason, SocketSink } from "./socket_sink.ts";
import { WireFrames } from "./wire_frames.ts";

/** The part of a `ws` WebSocket the sink uses. */
class FakeSocket {
  readonly OPEN = 1;
  readonly CLOSED = 3;
  readyState = 1;
  bufferedAmount = 0;
  sent: Uint8Array[] = [];
  closes: [number, string][] = [];
  send(frame: Uint8Array) {
    this.sent.push(frame);
  }
  close(code: number, reason: string) {
    this.closes.push([code, reason]);
  }
}

/** The connection under it: what was written, chunk by chunk. */
class FakeConnection {
  writes: Uint8Array[] = [];
  write(chunk: Uint8Array) {
    this.writes.push(chunk);
    return true;
  }
}

function sinkOn(frames = new WireFrames(), now = 0) {
  const socket = new FakeSocket();
  const connection = new FakeConnection();
  const closed: boolean[] = [];
  const sink = new SocketSink(socket as never, {
    connection: connection as never,
    frames,
    owner: { sinkClosed: (sent) => void closed.push(sent) },
    now,
  });
  return { socket, connection, closed, sink };
}

Deno.test("a socket sink stops sending once closed, and says whether a close frame went out", () => {
  const { socket, connection, closed, sink } = sinkOn(new WireFrames(), 5);
  assertEquals(sink.heardAt, 5);
  sink.send(new Uint8Array([1]));
  socket.bufferedAmount = 77;
  assertEquals(sink.bufferedAmount, 77);
  sink.close(4008, "slow");
  sink.send(new Uint8Array([2]));
  assertEquals([connection.writes.length, socket.closes, sink.closed], [1, [[4008, "slow"]], true]);
  socket.readyState = socket.CLOSED;
  sink.close(1000, "closed"); // already gone: no frame
  assertEquals([closed, socket.closes.length], [[true, false], 1]);
});

Deno.test("a socket sink writes each frame whole in one write, the same buffer for every socket", () => {
  const frames = new WireFrames();
  const [a, b] = [sinkOn(frames), sinkOn(frames)];
  const payload = new Uint8Array(200).map((_, i) => i);
  a.sink.send(payload);
  b.sink.send(payload);
  assertEquals([a.connection.writes.length, b.connection.writes.length], [1, 1]);
  assertEquals(a.connection.writes[0] === b.connection.writes[0], true);
  // FIN + binary, 16-bit length 200, then the payload (RFC 6455 §5.2).
  assertEquals(
    new Uint8Array(a.connection.writes[0]),
    new Uint8Array([0x82, 126, 0, 200, ...payload]),
  );
  assertEquals([a.socket.sent.length, b.socket.sent.length], [0, 0]);
});

Deno.test("a socket sink writes nothing once the WebSocket is closing, though the hub has not closed it", () => {
  const { socket, connection, sink } = sinkOn();
  socket.readyState = 2; // CLOSING: the client's close frame arrived, ours is on its way
  sink.send(new Uint8Array([1]));
  assertEquals(connection.writes.length, 0);
});

Deno.test("a close reason is cut to 123 bytes of UTF-8 without splitting a character", () => {
  assertEquals(closeReason("short"), "short");
  const long = "é".repeat(100); // 200 bytes
  const cut = closeReason(long);
  assertEquals(new TextEncoder().encode(cut).byteLength <= 123, true);
  assertEquals(cut, "é".repeat(60));
});
