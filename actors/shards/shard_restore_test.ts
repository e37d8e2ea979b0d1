import fc from "fast-check";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { ShardState } from "./shard_state.ts";
import { Router } from "./router.ts";
import { allocatePage, decodePage } from "./shard_image.ts";
import type { PageParts, ShardImage } from "./shard_image.ts";
import type { WindowSpec } from "./event_window_store.ts";
import type { ShardChanges } from "./shard_messages.ts";
import { blockFromReadings } from "../../protocol/reading_block.ts";
import { WINDOW_FINAL } from "../../protocol/columns.ts";
import type { WindowStates } from "../../protocol/columns.ts";
import { FeedView } from "../hub/feed_view.ts";

const SPECS: WindowSpec[] = [
  { sizesMs: [1_000, 10_000, 60_000], graceMs: 5_000 },
  { sizesMs: [500, 1_000], graceMs: 1_200 },
  { sizesMs: [2_000], graceMs: 0 },
];
const IDS = ["a", "b", "c", "d", "e"];
const METRICS = ["t", "h", "p"];
const BASE = 1_800_000_000_000;

type Step =
  | {
    kind: "reading";
    sensor: number;
    metric: number;
    dt: number;
    /** How far its stamp is ahead of when it was accepted (a fast clock). */
    ahead: number;
    value: number;
    status: number;
  }
  | { kind: "remove"; sensor: number }
  | { kind: "flush" };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant("reading" as const),
      sensor: fc.integer({ min: 0, max: IDS.length - 1 }),
      metric: fc.integer({ min: 0, max: METRICS.length - 1 }),
      // Mostly forward in time; sometimes back (late within grace, or past it).
      dt: fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min: 0, max: 1_500 }) },
        { weight: 1, arbitrary: fc.integer({ min: -8_000, max: 0 }) },
      ),
      ahead: fc.oneof(
        { weight: 4, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.integer({ min: 1, max: 12_000 }) },
      ),
      value: fc.double({ min: -1e3, max: 1e3, noNaN: true }),
      status: fc.integer({ min: 0, max: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("remove" as const),
      sensor: fc.integer({ min: 0, max: IDS.length - 1 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("flush" as const) }) },
);

/** What a flush tells that both twins must agree on after the cut: final windows and late counts. */
function finals(changes: ShardChanges): string[] {
  const w = changes.windows;
  const out: string[] = [];
  for (let i = 0; i < w.length; i++) {
    if (!(w.flags[i] & WINDOW_FINAL)) continue;
    out.push(
      [w.sensor[i], w.metric[i], w.size[i], w.startMs[i], w.count[i], w.sum[i], w.min[i], w.max[i]]
        .join() + `/${w.std[i]}`,
    );
  }
  return out;
}

/** Windows by sensor/metric/size: their start and values. */
function windowMap(w: WindowStates): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < w.length; i++) {
    out.set(
      `${w.sensor[i]}/${w.metric[i]}/${w.size[i]}`,
      [w.startMs[i], w.count[i], w.sum[i], w.min[i], w.max[i], w.std[i]].join(),
    );
  }
  return out;
}

/** Everything a shard holds, as plain data (its `state()` and every held window). */
function holding(state: ShardState, router: Router, spec: WindowSpec) {
  const s = state.state();
  const u = s.updates;
  const updates = Array.from(
    { length: u.length },
    (_, j) =>
      [u.sensor[j], u.metric[j], u.last[j], u.avg[j], u.min[j], u.max[j], u.timeMs[j]].join(),
  )
    .sort();
  const held: unknown[] = [];
  for (const id of IDS) {
    const at = router.lookup(id);
    if (!at) continue;
    for (const metric of METRICS) {
      const m = router.metricIndex(metric);
      if (m === undefined) continue;
      for (let size = 0; size < spec.sizesMs.length; size++) {
        held.push([id, metric, size, state.heldWindows(at.local, m, size)]);
      }
    }
  }
  return {
    sensors: s.sensors,
    metrics: s.metrics,
    updates,
    late: s.late,
    statuses: s.statuses,
    levels: [[...(s.levels?.sensor ?? [])], [...(s.levels?.level ?? [])]],
    held,
  };
}

Deno.test("a shard restored from its image goes on exactly as its un-restarted twin: same final windows, late counts, held windows and state, and a fresh hub mirror shows what the twin's shows, for any readings (some stamped ahead of their acceptance), removals and window sizes", () => {
  let withWindows = 0;
  fc.assert(
    fc.property(
      fc.constantFrom(...SPECS),
      fc.integer({ min: 1, max: 4 }),
      fc.array(step, { minLength: 1, maxLength: 80 }),
      fc.nat(),
      (spec, window, steps, cutAt) => {
        const cut = cutAt % (steps.length + 1);
        const router = new Router(1);
        const options = { window, windowSpec: spec, names: router };
        const twin = new ShardState(options);
        let restored = null as ShardState | null;
        // A hub mirror fed by the twin all along, and a fresh one fed by the restored shard.
        const twinView = new FeedView(), restoredView = new FeedView();
        const twinFinals: string[] = [];
        const restoredFinals: string[] = [];
        let timeMs = BASE;
        steps.forEach((s, i) => {
          if (i === cut) {
            // No flush first: what is dirty or ended but not yet handed over must survive too.
            const image = structuredClone(twin.image(1, -1));
            restored = new ShardState(options);
            restored.restore(image, 1);
            if (restored.counts().windows > 0) withWindows++;
            // The restored shard tells everything again; from here on both hand over the same finals.
            const first = restored.flush(), alongside = twin.flush();
            restoredView.apply([first]);
            twinView.apply([alongside]);
            restoredFinals.push(...finals(first));
            twinFinals.push(...finals(alongside));
          }
          const both = restored ? [twin, restored] : [twin];
          if (s.kind === "reading") {
            timeMs += s.dt;
            const rows = router.split({
              ...blockFromReadings([{
                sensorId: IDS[s.sensor],
                timeMs: timeMs + s.ahead,
                status: ["", "ok", "warn", "critical"][s.status] || undefined,
                values: { [METRICS[s.metric]]: s.value },
              }]),
              acceptedMs: timeMs,
            })[0]!;
            for (const state of both) state.apply(rows, 0, rows.length);
          } else if (s.kind === "remove") {
            const at = router.lookup(IDS[s.sensor]);
            if (at) { for (const state of both) state.remove(at.local); }
          } else {
            const a = twin.flush();
            twinView.apply([a]);
            if (restored) {
              twinFinals.push(...finals(a));
              const b = restored.flush();
              restoredView.apply([b]);
              restoredFinals.push(...finals(b));
            }
          }
        });
        const after = restored;
        if (!after) return;
        assertEquals(holding(after, router, spec), holding(twin, router, spec));
        const a = twin.flush(), b = after.flush();
        twinView.apply([a]);
        restoredView.apply([b]);
        twinFinals.push(...finals(a));
        restoredFinals.push(...finals(b));
        // The fresh mirror shows what the twin's shows, for every window the shard still
        // holds ended (closed ones are gone from a restart, and only from it).
        const shown = windowMap(twinView.windows()), fresh = windowMap(restoredView.windows());
        for (const [key, values] of fresh) assertEquals(values, shown.get(key), key);
        for (const key of windowMap(twin.state().windows).keys()) {
          assertEquals(fresh.get(key), shown.get(key), `${key}: held ended, so shown`);
        }
        assertEquals(restoredFinals.sort(), twinFinals.sort());
      },
    ),
    { numRuns: 300 },
  );
  // Not vacuous: most runs restored open windows.
  assert(withWindows > 100, `${withWindows} runs restored windows`);
});

/** A shard with live and removed sensors, several metrics, open and ended windows, a status and a late reading. */
function sample(): { image: ShardImage; window: number } {
  const router = new Router(1);
  const state = new ShardState({ window: 3, names: router });
  const readings = [];
  for (let i = 0; i < 40; i++) {
    readings.push({
      sensorId: IDS[i % 4],
      timeMs: BASE + i * 700 - (i % 7 === 6 ? 9_000 : 0),
      status: i % 5 === 0 ? "warn" : undefined,
      values: { t: i, h: 100 - i },
    });
  }
  const rows = router.split(blockFromReadings(readings))[0]!;
  state.apply(rows, 0, rows.length);
  state.flush();
  state.remove(router.lookup("b")!.local);
  return { image: state.image(1, -1), window: 3 };
}

/** The image with page 0's numbers changed by `edit` (and re-encoded with its strings). */
function edited(image: ShardImage, edit: (parts: PageParts) => PageParts): ShardImage {
  const parts = edit(decodePage(image.pages[0]!.slice()));
  const { parts: out, bytes } = allocatePage(parts.sensors, parts.strings, {
    f64: parts.f64.length,
    u32: parts.u32.length,
    i16: parts.i16.length,
  });
  out.f64.set(parts.f64);
  out.u32.set(parts.u32);
  out.i16.set(parts.i16);
  return { ...image, pages: [bytes] };
}

/** Offsets in page 0 of the sample: live sensor 0's first slot and its first window. */
function firstSlot(parts: PageParts) {
  // Sensor 0: u32 [flags, global, group, status, slots], then its first slot's
  // [metric, filled, windows, ring form, ...ring if int32].
  const filled = parts.u32[6], form = parts.u32[8];
  // f64: sensor [statusTimeMs, late], slot [last, timeMs, ...ring if float64], then the windows.
  return {
    u: 5,
    next: 5 + 4 + (form > 5 ? filled : 0),
    window: 2 + 2 + (form === 0 ? filled : 0),
    form,
  };
}

const HOSTILE: [string, (image: ShardImage) => ShardImage][] = [
  [
    "a truncated page",
    (im) => ({ ...im, pages: [im.pages[0]!.slice(0, im.pages[0]!.length - 16)] }),
  ],
  ["a page cut inside its header", (im) => ({ ...im, pages: [im.pages[0]!.slice(0, 6)] })],
  ["an empty page", (im) => ({ ...im, pages: [new Uint8Array(0)] })],
  ["a missing page", (im) => ({ ...im, pages: [null] })],
  ["a page too many", (im) => ({ ...im, pages: [im.pages[0], im.pages[0]] })],
  ["more sensors in the header than in the pages", (im) => ({
    ...im,
    header: { ...im.header, sensors: 5_000 },
  })],
  [
    "a page with more sensors than a page holds",
    (im) => edited(im, (p) => ({ ...p, sensors: 4_096 })),
  ],
  ["trailing numbers after the last sensor", (im) =>
    edited(im, (p) => ({
      ...p,
      u32: Uint32Array.from([...p.u32, 0, 0]),
      f64: Float64Array.from([...p.f64, 0]),
    }))],
  ["a group string index out of range", (im) =>
    edited(im, (p) => {
      p.u32[2] = 99;
      return p;
    })],
  ["a status string index out of range", (im) =>
    edited(im, (p) => {
      p.u32[3] = 1e9;
      return p;
    })],
  ["an unknown sensor flag", (im) =>
    edited(im, (p) => {
      p.u32[0] = 7;
      return p;
    })],
  ["a slot count past the page's end", (im) =>
    edited(im, (p) => {
      p.u32[4] = 1e6;
      return p;
    })],
  ["a metric index past 65535", (im) =>
    edited(im, (p) => {
      p.u32[firstSlot(p).u] = 70_000;
      return p;
    })],
  ["a sensor's metric twice", (im) =>
    edited(im, (p) => {
      p.u32[firstSlot(p).next] = p.u32[firstSlot(p).u];
      return p;
    })],
  ["a ring fuller than the window", (im) =>
    edited(im, (p) => {
      p.u32[firstSlot(p).u + 1] = 50;
      return p;
    })],
  ["a ring saved in an unknown form", (im) =>
    edited(im, (p) => {
      p.u32[firstSlot(p).u + 3] = 11;
      return p;
    })],
  ["a threshold record flagged that was not saved", (im) =>
    edited(im, (p) => {
      p.u32[firstSlot(p).u + 3] |= 16;
      return p;
    })],
  [
    "an int16 ring past its section's end",
    (im) => edited(im, (p) => ({ ...p, i16: p.i16.slice(0, p.i16.length - 1) })),
  ],
  [
    "an int16 ring read as int32 (its values taken for the next slots' integers)",
    (im) =>
      edited(im, (p) => {
        p.u32[firstSlot(p).u + 3] = 6;
        return p;
      }),
  ],
  ["a window count past the page's end", (im) =>
    edited(im, (p) => {
      p.u32[firstSlot(p).u + 2] = 1e7;
      return p;
    })],
  ["a window size index out of range", (im) =>
    edited(im, (p) => {
      p.f64[firstSlot(p).window] = 7 * 8 + 1;
      return p;
    })],
  ["a negative window code", (im) =>
    edited(im, (p) => {
      p.f64[firstSlot(p).window] = -7;
      return p;
    })],
  ["a free window state", (im) =>
    edited(im, (p) => {
      p.f64[firstSlot(p).window] = 0;
      return p;
    })],
  ["a window start not on its size", (im) =>
    edited(im, (p) => {
      p.f64[firstSlot(p).window + 1] += 1;
      return p;
    })],
  ["a window start that is not a number", (im) =>
    edited(im, (p) => {
      p.f64[firstSlot(p).window + 1] = NaN;
      return p;
    })],
  ["a removed sensor with slots", (im) =>
    edited(im, (p) => {
      // Sensor 1 ("b") was removed: [0, global, 0, 0, 0].
      // Sensor 0's slots take 4 integers each (their rings are int16: values 0..100).
      assertEquals(firstSlot(p).form, 1);
      const at = 5 + 4 * p.u32[4];
      assertEquals(p.u32[at], 0);
      p.u32[at + 4] = 1;
      return p;
    })],
];

Deno.test("a corrupt or hostile shard image (truncated, wrong lengths, indexes out of range) is refused with a RangeError and leaves the shard empty", () => {
  const { image, window } = sample();
  // The untouched image restores (the edits below are what is refused).
  const good = new ShardState({ window });
  good.restore(edited(image, (p) => p), 1);
  assertEquals(good.counts().sensors, 3);
  const wrong: string[] = [];
  for (const [name, corrupt] of HOSTILE) {
    const state = new ShardState({ window });
    let error: unknown = null;
    try {
      state.restore(corrupt(image), 1);
    } catch (e) {
      error = e;
    }
    if (!(error instanceof RangeError)) {
      wrong.push(`${name}: not refused with a RangeError (${error})`);
    } else if (!/^Cannot (restore|read)/.test(error.message)) {
      wrong.push(`${name}: ${error.message}`);
    } else {
      const counts = state.counts();
      if (counts.sensors + counts.slots + counts.windows !== 0) {
        wrong.push(`${name}: not left empty`);
      } else if (state.flush().updates.length !== 0) {
        wrong.push(`${name}: half-restored state told`);
      }
    }
  }
  assertEquals(wrong, []);
});
