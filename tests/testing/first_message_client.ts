// Run as its own process by transport_test.ts: opens feed connections one
// after another, sends a Subscribe the moment each opens, and prints how many
// were answered. (A client in the server's own process does not race the
// server the way a browser does.)
import { encodeSubscribe, peekServerFrame } from "../../protocol/mod.ts";

const [base, count] = [Deno.args[0], Number(Deno.args[1])];
let answered = 0;
for (let i = 0; i < count; i++) {
  const socket = new WebSocket(new URL("/ws?subscribe=explicit", base.replace("http", "ws")));
  socket.binaryType = "arraybuffer";
  const ok = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 3_000);
    socket.onopen = () => socket.send(encodeSubscribe([{ id: 1, all: true }]));
    socket.onmessage = (event) => {
      if (peekServerFrame(new Uint8Array(event.data)).type === "subscribed") {
        clearTimeout(timer);
        resolve(true);
      }
    };
  });
  if (ok) answered++;
  socket.close();
  await new Promise((resolve) => (socket.onclose = resolve));
}
console.log(JSON.stringify({ answered }));
