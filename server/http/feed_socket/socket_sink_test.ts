import { assertEquals } from "../../../tests/testing/assert.ts";
import { closeReason, SocketSink } from "./socket_sink.ts";

/** The part of a `ws` WebSocket the sink uses. */
class FakeSocket {
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

Deno.test("a socket sink stops sending once closed, and says whether a close frame went out", () => {
  const socket = new FakeSocket();
  const closed: boolean[] = [];
  const sink = new SocketSink(socket as never, (sent) => closed.push(sent), 5);
  assertEquals(sink.heardAt, 5);
  sink.send(new Uint8Array([1]));
  socket.bufferedAmount = 77;
  assertEquals(sink.bufferedAmount, 77);
  sink.close(4008, "slow");
  sink.send(new Uint8Array([2]));
  assertEquals([socket.sent.length, socket.closes, sink.closed], [1, [[4008, "slow"]], true]);
  socket.readyState = socket.CLOSED;
  sink.close(1000, "closed"); // already gone: no frame
  assertEquals([closed, socket.closes.length], [[true, false], 1]);
});

Deno.test("a close reason is cut to 123 bytes of UTF-8 without splitting a character", () => {
  assertEquals(closeReason("short"), "short");
  const long = "é".repeat(100); // 200 bytes
  const cut = closeReason(long);
  assertEquals(new TextEncoder().encode(cut).byteLength <= 123, true);
  assertEquals(cut, "é".repeat(60));
});
