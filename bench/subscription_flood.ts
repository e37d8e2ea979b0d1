// Reproduces issue 15 item 9 against a server process: one client sends 73
// Subscribes without `replace`, each adding 420 sensor ids of 128 characters
// (about 57 KB a message, 4 MiB in all), inside the message rate. Prints the
// server's RSS, the size of /healthz and the hub's topic counts before, during
// and after. Extra arguments go to the server, e.g. `--max-subscription-bytes`.
//
//   deno run -A bench/subscription_flood.ts
import { spawnServer } from "../tests/testing/server_process.ts";
import { encodeSubscribe } from "../protocol/mod.ts";

const rssMb = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`))![1]) / 1024;
const server = await spawnServer(["--port", "0", "--data", ":memory:", ...Deno.args]);
const report = async (when: string) => {
  const text = await (await fetch(server.url + "healthz")).text();
  const hub = JSON.parse(text).hub;
  console.log(
    `${when.padEnd(22)} rss ${rssMb(server.child.pid).toFixed(0).padStart(4)} MB, ` +
      `/healthz ${(text.length / 1024).toFixed(1).padStart(9)} KiB, topics ${
        hub.topicCount ?? hub.topics.length
      }, key bytes ${hub.topicKeyBytes ?? "?"}`,
  );
};
try {
  await new Promise((r) => setTimeout(r, 1000));
  await report("start");
  const ws = new WebSocket(server.url.replace("http", "ws") + "ws?subscribe=explicit");
  ws.binaryType = "arraybuffer";
  await new Promise((r) => (ws.onopen = r));
  let bytes = 0;
  const started = Date.now();
  for (let m = 0; m < 73; m++) {
    const ids = Array.from({ length: 420 }, (_, i) => `m${m}-${i}-`.padEnd(128, "x"));
    const frame = encodeSubscribe([{ id: m + 1, sensors: ids }]);
    bytes += frame.byteLength;
    ws.send(frame);
    // Inside the default rate: a burst of 20, then 5 a second.
    await new Promise((r) => setTimeout(r, m < 18 ? 10 : 210));
  }
  await new Promise((r) => setTimeout(r, 1500));
  console.log(
    `sent 73 Subscribes (${(bytes / 2 ** 20).toFixed(1)} MiB) in ${
      ((Date.now() - started) / 1000).toFixed(1)
    } s; the connection is ${ws.readyState === WebSocket.OPEN ? "open" : "closed"}`,
  );
  await report("after the flood");
  ws.close();
  await new Promise((r) => setTimeout(r, 2000));
  await report("2 s after it left");
  await new Promise((r) => setTimeout(r, 31_000));
  await report("33 s after it left");
} finally {
  server.child.kill("SIGTERM");
  await server.child.status;
}
