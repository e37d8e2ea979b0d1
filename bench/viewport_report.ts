// Prints the viewport benchmarks' tables (see viewport.ts), with the machine's load.
import { renderTable } from "./table.ts";
import { runBrowser, runViewFanout, runViewportBytes, runViewTicks } from "./viewport.ts";
import { burstWalls } from "./machine_steal.ts";

export interface ViewportBenchOptions {
  viewport: boolean;
  viewTicks: boolean;
  fanout?: number[];
  browser: boolean;
  sensors: number;
  bigSensors: number;
  bigRate: number;
  orderings: number[];
  /** Niceness of the load generator and clients in `viewTicks` (0: the server's). */
  loadNice: number;
  browserRate: number;
  browserRoot?: string;
  /** The fan-out's server runs from this checkout (to measure another version the same way). */
  serverRoot?: string;
  /** Extra flags for the servers these benches start (`--server-args`). */
  serverArgs?: string[];
  seconds: number;
}

const log = (line: string) => console.error(line);
const load = () => Deno.loadavg().map((l) => l.toFixed(2)).join(" ");
const n = (x: number, digits = 1) => x.toFixed(digits);

export async function viewportBench(o: ViewportBenchOptions): Promise<number> {
  console.log(`${navigator.hardwareConcurrency} cores, load average ${load()} (1, 5, 15 min)`);
  if (o.viewport) {
    for (const [sensors, rate] of [[o.sensors, 10_000], [o.bigSensors, o.bigRate]]) {
      const { rows, acceptedPerSecond, scrollMs } = await runViewportBytes({
        sensors,
        rate,
        seconds: o.seconds,
        serverArgs: o.serverArgs,
        log,
        full: sensors <= 20_000,
      });
      console.log(
        `\nbytes received, ${sensors} sensors at ${rate} readings/s (accepted ${
          Math.round(acceptedPerSecond)
        }/s), ${o.seconds} s:`,
      );
      console.log(renderTable(
        ["client", "KB/s", "frames/s", "B/sensor update"],
        rows.map((r) => [
          r.client,
          n(r.kbPerSecond),
          n(r.framesPerSecond),
          r.bytesPerSensorUpdate === null ? "–" : n(r.bytesPerSensorUpdate),
        ]),
      ));
      const notes = rows.map((r) => r.note).find((note) => note);
      if (notes) console.log(`note:${notes}`);
      const at = (q: number) =>
        n(scrollMs[Math.min(scrollMs.length - 1, Math.floor(q * scrollMs.length))]);
      console.log(
        `scrolling the hottest-first window to ${scrollMs.length} random places of its view: ` +
          `the new rows in p50 ${at(0.5)} / p90 ${at(0.9)} / max ${at(1)} ms, ` +
          `${
            scrollMs.filter((ms) => ms > 150).length
          } over 150 ms (ViewSubscribe sent → rows applied)`,
      );
    }
  }
  if (o.viewTicks) {
    // What this machine does to a tick-sized piece of CPU work before any load.
    const probe = await burstWalls({ bursts: 50, cpuMs: 10 });
    if (probe) {
      const at = (p: number) => probe[Math.min(probe.length - 1, Math.ceil(p * probe.length) - 1)];
      log(
        `this machine before the load: a 10 ms CPU-bound burst took p50 ${n(at(0.5))} / p90 ${
          n(at(0.9))
        } / max ${n(at(1))} ms of wall time (${probe.length} bursts)`,
      );
    }
    const rows = await runViewTicks({
      sensors: o.bigSensors,
      rate: o.bigRate,
      seconds: o.seconds,
      orderings: o.orderings,
      serverArgs: o.serverArgs,
      loadNice: o.loadNice,
      log,
    });
    console.log(
      `\nhub tick with distinct orderings open, ${o.bigSensors} sensors at ${o.bigRate} readings/s` +
        ` (simulator and clients at nice ${o.loadNice}):`,
    );
    console.log(renderTable(
      [
        "orderings (views)",
        "ticks sampled",
        "hub tick p50/p99 ms",
        "its CPU p50/p99 ms",
        "its run-queue wait p50/p99 ms",
        "of it views p50/p99 ms",
        "round with flushes p50/p99 ms",
        "host steal %",
        "other processes %",
      ],
      rows.map((r) => [
        `${r.orderings} (${r.views})`,
        String(r.ticks),
        `${n(r.tickP50)} / ${n(r.tickP99)}`,
        `${n(r.tickCpuP50)} / ${n(r.tickCpuP99)}`,
        `${n(r.tickWaitP50)} / ${n(r.tickWaitP99)}`,
        `${n(r.viewsP50)} / ${n(r.viewsP99)}`,
        `${n(r.roundP50)} / ${n(r.roundP99)}`,
        r.stealPercent === null ? "–" : r.stealPercent.toFixed(0),
        r.otherPercent === null ? "–" : r.otherPercent.toFixed(0),
      ]),
    ));
    console.log(
      "host steal: the share of the machine's CPU time the hypervisor gave other guests while " +
        "the ticks were sampled (/proc/stat); a tick's wall time beyond its CPU time is time its " +
        "thread had no core: taken by the host, or by other threads here. Its run-queue wait: " +
        "the part of that its thread was runnable and other threads or processes had the cores " +
        "(/proc/thread-self/schedstat). Other processes: CPU time used by processes other than " +
        "the server, the simulator and the clients while the ticks were sampled, % of the " +
        "machine's (its 2 cores: 100% is both busy).",
    );
    console.log(
      "hub tick: merging the shards' flushes and sending every stream's frames (wall time; its CPU: " +
        "the hub thread's CPU time over it, without waits for a core); round: from asking " +
        "the shards for their flushes to the end of the tick (the shards' work included).",
    );
  }
  if (o.fanout) {
    const rows = await runViewFanout({
      sensors: o.sensors,
      rate: 10_000,
      seconds: o.seconds,
      clients: o.fanout,
      cwd: o.serverRoot,
      serverArgs: o.serverArgs,
      log,
    });
    console.log(`\nviewport fan-out, ${o.sensors} sensors at 10000 readings/s, 20 places:`);
    console.log(renderTable(
      [
        "clients",
        "open",
        "client processes",
        "frames/s",
        "KB/s per client",
        "serverTime→client p50/p99 ms",
        "server CPU %",
        "server RSS MB",
        "RSS KB per client",
        "heap used MB",
        "heap KB per client",
        "external MB",
        "external KB per client",
        "after GC, KB per client: RSS / heap used / heap total (young gen) / external / malloc",
        "closed",
        "load",
      ],
      rows.map((r) => [
        String(r.clients),
        String(r.open),
        String(r.processes),
        String(Math.round(r.framesPerSecond)),
        n(r.kbPerSecondPerClient, 2),
        `${r.p50} / ${r.p99}`,
        n(r.cpuPercent, 0),
        n(r.rssMb, 0),
        n(r.kbPerClient),
        n(r.heapUsedMb, 0),
        n(r.heapKbPerClient),
        n(r.externalMb, 0),
        n(r.externalKbPerClient),
        `${n(r.gcKbPerClient)} / ${n(r.gcHeapKbPerClient)} / ${n(r.gcHeapTotalKbPerClient)} (${
          n(r.gcNewSpaceKbPerClient)
        }) / ${n(r.gcExternalKbPerClient)} / ${n(r.gcMallocKbPerClient)}`,
        String(r.closed),
        r.load,
      ]),
    ));
  }
  if (o.browser) {
    const rows = await runBrowser({
      sensors: o.sensors,
      rate: o.browserRate,
      seconds: o.seconds,
      cwd: o.browserRoot,
      log,
    });
    console.log(
      `\nthe dashboard in Chromium, ${o.sensors} sensors at ${o.browserRate} readings/s${
        o.browserRoot ? ` (server and page from ${o.browserRoot})` : ""
      }:`,
    );
    console.log(renderTable(
      [
        "CPU",
        "KB/s received",
        "rate",
        "frame p95 ms (page)",
        "animation frame p50/p99 ms",
        "long tasks ms/s",
        "catch-ups",
      ],
      rows.map((r) => [
        r.throttle === 1 ? "normal" : `${r.throttle}x throttled`,
        n(r.kbPerSecond),
        r.rateHz,
        n(r.frameP95),
        `${n(r.rafP50)} / ${n(r.rafP99)}`,
        n(r.longTaskMsPerSecond, 0),
        String(r.catchUps),
      ]),
    ));
  }
  console.log(`\nload average at the end ${load()}`);
  return 0;
}
