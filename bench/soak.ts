// Soak: the server under steady ingest and fan-out for a while, sampling its
// memory, to show whether it stays flat.
import { startServer, startSimulator, stopProcess } from "./processes.ts";
import { encodePong, encodeSubscribe, peekServerFrame } from "../protocol/mod.ts";

function rssMb(pid: number): number {
  return Number(Deno.readTextFileSync(`/proc/${pid}/status`).match(/VmRSS:\s+(\d+)/)![1]) / 1024;
}

/** Least-squares slope of y over x. */
function slope(points: [number, number][]): number {
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let num = 0, den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export async function runSoak(seconds: number, clients: number, rate = 10_000): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-soak-" });
  const server = await startServer([
    "--port",
    "0",
    "--data",
    `${dir}/soak.kv`,
    "--max-connections-per-address",
    "100000",
    // Its clients stand for many machines: no one address's viewport row budget.
    "--view-rows-per-address",
    "100000000",
  ]);
  const sim = startSimulator([
    "--url",
    server.url,
    "--rate",
    String(rate),
    "--batch",
    "700",
    "--concurrency",
    rate > 50_000 ? "6" : "2",
    "--duration",
    String(seconds + 5),
  ]).child;
  // One line per client (as an operator watching a line would), 24 topics.
  const groups = Array.from(
    { length: 24 },
    (_, i) => `plant-${"abcd"[i % 4]}/line-${1 + Math.floor(i / 4)}`,
  );
  const closes = new Map<number, number>();
  const sockets = Array.from({ length: clients }, (_, i) => {
    const ws = new WebSocket(server.url.replace("http", "ws") + "ws?subscribe=explicit");
    ws.binaryType = "arraybuffer";
    ws.onclose = (event) => closes.set(event.code, (closes.get(event.code) ?? 0) + 1);
    ws.onopen = () => ws.send(encodeSubscribe([{ id: 1, group: groups[i % groups.length] }]));
    ws.onmessage = (event) => {
      const frame = peekServerFrame(new Uint8Array(event.data));
      if (frame.type === "ping") ws.send(encodePong(frame.nonce));
    };
    return ws;
  });
  const samples: [number, number][] = [];
  const started = Date.now();
  const accepted = async () =>
    (await (await fetch(server.url + "healthz")).json()).ingest.accepted as number;
  const acceptedAtStart = await accepted();
  try {
    while (Date.now() - started < seconds * 1000) {
      await new Promise((r) => setTimeout(r, 5_000));
      samples.push([(Date.now() - started) / 60_000, rssMb(server.child.pid)]);
      console.log(
        `soak: ${Math.round((Date.now() - started) / 1000)} s  server RSS ${
          samples.at(-1)![1].toFixed(0)
        } MB`,
      );
    }
    const achieved = (await accepted() - acceptedAtStart) / ((Date.now() - started) / 1000);
    const sessions = (await (await fetch(server.url + "healthz")).json()).sessions;
    const codes = [...closes].map(([code, n]) => `${n}× ${code}`).join(", ") || "none";
    // The server's own count: a stalled client may never see its 4008 close frame.
    const metrics = await (await fetch(server.url + "metrics")).text();
    const counter = (name: string) =>
      Number(metrics.match(new RegExp(`^${name} (\\d+)`, "m"))?.[1]);
    const slowCloses = counter("pulseboard_slow_client_closes_total");
    const silentCloses = counter("pulseboard_silent_client_closes_total");
    console.log(
      `soak: accepted ${
        Math.round(achieved)
      } readings/s on average; ${sessions} of ${clients} clients still connected; closes seen by clients: ${codes}; closes by the server: ${slowCloses} slow (4008), ${silentCloses} silent (4001)`,
    );
  } finally {
    sockets.forEach((ws) => ws.close());
    await stopProcess(sim);
    await stopProcess(server.child);
    await Deno.remove(dir, { recursive: true });
  }
  const second = samples.slice(Math.floor(samples.length / 2));
  console.log(
    `soak: ${seconds} s, ${clients} clients, ${rate} readings/s offered: RSS first ${
      samples[0][1].toFixed(0)
    } MB, ` +
      `last ${samples.at(-1)![1].toFixed(0)} MB, max ${
        Math.max(...samples.map((s) => s[1])).toFixed(0)
      } MB, ` +
      `slope over the second half ${slope(second).toFixed(2)} MB/min`,
  );
}
