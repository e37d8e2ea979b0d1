// `deno run -A bench/rollup_cost.ts [--sensors 100000] [--rate 40000] [--seconds 40] [--dry]`:
// what the rollups cost on their own. Final 1 s windows (each sensor's readings
// per second drawn from a Poisson law, three metrics) and, each minute, 1 min
// windows are handed to a RollupWriter in 100 ms ticks in real time, with a
// flush every 10 s and a checkpoint snapshot every 30 s, into a real Deno KV
// file. Prints CPU seconds per thread (main, V8's GC helpers, Deno KV's
// writer `sw-0`), the values and bytes stored, the snapshot size, the peak
// RSS and the longest `add` and `snapshot` calls. `--dry` makes the windows
// only: subtract its main-thread CPU to get the rollups' own.
import { parseArgs } from "node:util";
import { RollupStore, RollupWriter } from "../server/history/mod.ts";
import { allocateWindowStates, WINDOW_FINAL } from "../protocol/columns.ts";
import { KEYS } from "../server/store/keys.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    sensors: { type: "string", default: "100000" },
    rate: { type: "string", default: "40000" },
    seconds: { type: "string", default: "40" },
    dry: { type: "boolean", default: false },
  },
});
const sensors = Number(flags.sensors), rate = Number(flags.rate), seconds = Number(flags.seconds);
const SIZES = [1_000, 10_000, 60_000];
const METRICS = ["temperature", "humidity", "pressure"];

/** CPU seconds so far per thread name (V8's helpers together). */
function threadCpu(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const entry of Deno.readDirSync("/proc/self/task")) {
    const stat = Deno.readTextFileSync(`/proc/self/task/${entry.name}/stat`);
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const key = name.startsWith("V8 DefaultWork") ? "gc-helpers" : name;
    out[key] = (out[key] ?? 0) + (Number(fields[11]) + Number(fields[12])) / 100;
  }
  return out;
}

const dir = await Deno.makeTempDir({ prefix: "pulseboard-rollup-cost-" });
const kv = await Deno.openKv(`${dir}/r.kv`);
try {
  const store = new RollupStore(kv, new Map([[1_000, 86_400_000], [60_000, 30 * 86_400_000]]));
  const writer = new RollupWriter(store, { sizesMs: SIZES });
  const ids = Array.from({ length: sensors }, (_, i) => `plant-a/line-1/sensor-${i}`);
  const names = { sensorId: (i: number) => ids[i], metricName: (i: number) => METRICS[i] };
  // A fixed pseudo-random sequence, so runs of the old and new code see the same windows.
  let seed = 1;
  const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const lambda = rate / sensors;
  const poisson = () => {
    let k = 0, p = Math.exp(-lambda), sum = p;
    const u = random();
    while (u > sum) sum += p *= lambda / ++k;
    return k;
  };
  const t0 = 1_800_000_000_000;
  const perMinute = new Float64Array(sensors);
  const before = threadCpu();
  const started = performance.now();
  let windows = 0, rssMax = 0, snapshotBytes = 0, snapshots = 0, addMax = 0, snapshotMax = 0;
  for (let sec = 0; sec < seconds; sec++) {
    for (let tick = 0; tick < 10; tick++) {
      const lo = Math.floor(sensors * tick / 10), hi = Math.floor(sensors * (tick + 1) / 10);
      const minute = (sec + 1) % 60 === 0;
      const counts: number[] = [];
      for (let s = lo; s < hi; s++) {
        const c = poisson();
        perMinute[s] += c;
        if (c > 0) counts.push(s, c);
      }
      const w = allocateWindowStates((counts.length / 2) * 3 + (minute ? (hi - lo) * 3 : 0));
      let j = 0;
      const put = (sensor: number, m: number, size: number, start: number, count: number) => {
        const v = 20 + random() * 10;
        w.sensor[j] = sensor;
        w.metric[j] = m;
        w.size[j] = size;
        w.flags[j] = WINDOW_FINAL;
        w.startMs[j] = start;
        w.count[j] = count;
        w.sum[j] = count === 1 ? v : v * count;
        w.min[j] = count === 1 ? v : v - 1;
        w.max[j] = count === 1 ? v : v + 1;
        j++;
      };
      for (let k = 0; k < counts.length; k += 2) {
        for (let m = 0; m < 3; m++) put(counts[k], m, 0, t0 + sec * 1_000, counts[k + 1]);
      }
      if (minute) {
        for (let s = lo; s < hi; s++) {
          for (let m = 0; m < 3; m++) put(s, m, 2, t0 + (sec - 59) * 1_000, perMinute[s] || 1);
        }
        perMinute.fill(0, lo, hi);
      }
      windows += w.length;
      const addStarted = performance.now();
      if (!flags.dry) writer.add(w, names);
      addMax = Math.max(addMax, performance.now() - addStarted);
      const wait = started + (sec * 10 + tick + 1) * 100 - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    if (!flags.dry && (sec + 1) % 10 === 0) writer.flush().catch(() => {});
    if (!flags.dry && (sec + 1) % 30 === 0) {
      const snapshotStarted = performance.now();
      snapshotBytes += writer.snapshot().byteLength;
      snapshots++;
      snapshotMax = Math.max(snapshotMax, performance.now() - snapshotStarted);
    }
    rssMax = Math.max(rssMax, Deno.memoryUsage().rss);
  }
  await writer.flush();
  await writer.settled();
  const after = threadCpu();
  let values = 0, bytes = 0;
  for await (const e of kv.list<Uint8Array>({ prefix: [KEYS.rollupSpan] })) {
    values++;
    bytes += e.value.byteLength;
  }
  const cpu = Object.fromEntries(
    Object.entries(after).map(([k, v]) => [k, +(v - (before[k] ?? 0)).toFixed(2)])
      .filter(([, v]) => (v as number) > 0.005),
  );
  console.log(JSON.stringify({
    sensors,
    rate,
    seconds,
    dry: flags.dry,
    windows,
    cpuSeconds: cpu,
    storedValues: values,
    storedMB: +(bytes / 1e6).toFixed(1),
    snapshotMB: +(snapshotBytes / 1e6 / Math.max(1, snapshots)).toFixed(1),
    rssMaxMB: Math.round(rssMax / 1e6),
    addMaxMs: +addMax.toFixed(1),
    snapshotMaxMs: +snapshotMax.toFixed(1),
    load: Deno.loadavg(),
  }));
} finally {
  kv.close();
  await Deno.remove(dir, { recursive: true });
}
