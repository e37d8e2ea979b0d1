/**
 * The checks a shard image passes before a shard restores it, so a corrupt
 * or hostile checkpoint is refused whole (RangeError "Cannot restore ...")
 * instead of being restored into a broken state: every length and index is
 * in range, every count adds up to the page's sections exactly. One O(n)
 * pass over the small integers and the window codes; it also counts the
 * slots and windows, so the restore can size its arenas once.
 *
 * Page layout (written by `ShardState`): per sensor, u32 [flags, global,
 * group, status, slots] and f64 [statusTimeMs, late]; per slot of a live
 * sensor, in chain order, u32 [metric, filled, windows, ring form |
 * SAVED_LEVELS, ...ring if int32], i16 [...ring if int16] and f64 [last,
 * timeMs, ...ring if float64, ...windows (2, 3 or SLOT_LENGTH numbers each:
 * `EventWindowStore.saveWindows`), ...threshold record if SAVED_LEVELS]. A removed sensor
 * keeps its index (flags 0) and has no slots.
 */
import { savedWindowsEnd, savedWindowsError } from "./event_window_store.ts";
import type { WindowSpec } from "./event_window_store.ts";
import { decodePage, SENSOR_PAGE } from "./shard_image.ts";
import type { PageParts, ShardImage } from "./shard_image.ts";
import { ThresholdLevels } from "./threshold_levels.ts";

/** A saved sensor's flag: live (else removed). */
export const SAVED_LIVE = 1;
/** A saved slot's ring form (`MovingWindows.ringForm`) is its fourth integer's low bits... */
export const RING_FORM = 15;
/** ...and this bit says a threshold record follows its windows (a cell never judged has none). */
export const SAVED_LEVELS = 16;
const METRICS = 65_536;

/** An image that passed: its pages decoded, and how many slots, windows and threshold records they hold. */
export interface CheckedImage {
  pages: PageParts[];
  slots: number;
  windows: number;
  levels: number;
}

/** Per metric index: the sensor that last used it (duplicate metrics in one sensor). */
const seen = new Float64Array(METRICS).fill(-1);
let stamp = 0;

/** What passed, by image: the shard set checks before its shards restore (no second pass). */
const passed = new WeakMap<ShardImage, CheckedImage & { shape: ImageShape }>();

/** The shape a shard restores into. */
export interface ImageShape {
  window: number;
  spec: WindowSpec;
}

/**
 * Checks a whole image against the shard's shape; throws RangeError on the
 * first fault. With `owns`, every live sensor's global index must be the
 * router's for that shard and index in it.
 */
export function checkShardImage(
  image: ShardImage,
  shape: ImageShape,
  options: { owns?: (global: number, local: number) => boolean } = {},
): CheckedImage {
  const before = passed.get(image);
  if (
    before && !options.owns && before.shape.window === shape.window &&
    before.shape.spec.graceMs === shape.spec.graceMs &&
    before.shape.spec.sizesMs.join() === shape.spec.sizesMs.join()
  ) {
    return before;
  }
  const checked = checkImage(image, shape, options.owns);
  passed.set(image, { ...checked, shape });
  return checked;
}

function checkImage(
  image: ShardImage,
  shape: ImageShape,
  owns?: (global: number, local: number) => boolean,
): CheckedImage {
  const { header } = image;
  const sensors = header?.sensors;
  if (!(Number.isSafeInteger(sensors) && sensors >= 0)) {
    throw new RangeError(`Cannot restore a shard of ${sensors} sensors`);
  }
  const pageCount = Math.ceil(sensors / SENSOR_PAGE);
  if (!Array.isArray(image.pages) || image.pages.length !== pageCount) {
    throw new RangeError(
      `Cannot restore a shard of ${sensors} sensors from ${image.pages?.length} pages`,
    );
  }
  const newest = header.newestMs;
  if (newest !== null && !Number.isFinite(newest)) {
    throw new RangeError(`Cannot restore a shard whose newest event time is ${newest}`);
  }
  if (!(header.lateDropped >= 0)) {
    throw new RangeError(`Cannot restore a shard that dropped ${header.lateDropped} readings`);
  }
  if (
    !Array.isArray(header.metrics) ||
    !header.metrics.every((m) => Number.isInteger(m) && m >= 0 && m < METRICS)
  ) {
    throw new RangeError("Cannot restore a shard: its metric list is not metric indexes");
  }
  const checked: CheckedImage = { pages: [], slots: 0, windows: 0, levels: 0 };
  for (let p = 0; p < pageCount; p++) {
    const bytes = image.pages[p];
    if (!(bytes instanceof Uint8Array)) {
      throw new RangeError(`Cannot restore: page ${p} is missing`);
    }
    let parts: PageParts;
    try {
      parts = decodePage(bytes);
    } catch (error) {
      throw new RangeError(`Cannot restore page ${p}: ${(error as Error).message}`);
    }
    const expected = Math.min(SENSOR_PAGE, sensors - p * SENSOR_PAGE);
    if (parts.sensors !== expected) {
      throw new RangeError(`Cannot restore page ${p}: ${parts.sensors} sensors, not ${expected}`);
    }
    const fault = checkPage(parts, p * SENSOR_PAGE, shape, checked, owns);
    if (fault !== null) throw new RangeError(`Cannot restore page ${p}: ${fault}`);
    checked.pages.push(parts);
  }
  return checked;
}

/** Why a decoded page cannot be restored, or null; adds its slots, windows and records to `totals`. */
function checkPage(
  parts: PageParts,
  first: number,
  shape: ImageShape,
  totals: { slots: number; windows: number; levels: number },
  owns?: (global: number, local: number) => boolean,
): string | null {
  const { u32, f64, i16, strings } = parts;
  const record = ThresholdLevels.RECORD;
  let a = 0, b = 0, c = 0;
  for (let j = 0; j < parts.sensors; j++) {
    if (b + 5 > u32.length || a + 2 > f64.length) return `sensor ${j}: the page ends before it`;
    const flags = u32[b], global = u32[b + 1], group = u32[b + 2], status = u32[b + 3];
    const slots = u32[b + 4];
    const statusTimeMs = f64[a], late = f64[a + 1];
    b += 5;
    a += 2;
    if (flags !== 0 && flags !== SAVED_LIVE) return `sensor ${j}: unknown flags ${flags}`;
    if (flags === 0) {
      if (slots !== 0) return `sensor ${j}: removed, yet ${slots} metrics`;
      continue;
    }
    if (owns && !owns(global, first + j)) {
      return `sensor ${j}: index ${global} is not the router's sensor ${first + j} of this shard`;
    }
    if (group >= strings.length || status >= strings.length) {
      return `sensor ${j}: group or status string ${Math.max(group, status)} out of range`;
    }
    if (Number.isNaN(statusTimeMs) || !(late >= 0)) return `sensor ${j}: status time or late count`;
    stamp++;
    for (let m = 0; m < slots; m++) {
      if (b + 4 > u32.length) return `sensor ${j}: the page ends before its metric ${m}`;
      const metric = u32[b], filled = u32[b + 1], windows = u32[b + 2];
      const form = (u32[b + 3] & ~SAVED_LEVELS) >>> 0;
      const levels = (u32[b + 3] & SAVED_LEVELS) !== 0 ? record : 0;
      b += 4;
      if (metric >= METRICS) return `sensor ${j}: metric index ${metric}`;
      if (seen[metric] === stamp) return `sensor ${j}: metric ${metric} twice`;
      seen[metric] = stamp;
      if (filled > shape.window) {
        return `sensor ${j}: ${filled} values in a moving window of ${shape.window}`;
      }
      if (form > 10) return `sensor ${j}: metric ${metric}'s ring saved in form ${form}`;
      // The ring: float64 with the numbers, int16 in its own section, int32 with the integers.
      let at = a + 2;
      if (form === 0) at += filled;
      else if (form <= 5) c += filled;
      else b += filled;
      if (c > i16.length || b > u32.length) {
        return `sensor ${j}: the page ends before metric ${metric}'s ring`;
      }
      if (at + levels > f64.length) {
        return `sensor ${j}: the page ends before its metric ${metric}`;
      }
      // Windows take 2 to SLOT_LENGTH numbers each: walked, read no further than the record.
      const after = savedWindowsEnd(shape.spec, f64, at, windows, f64.length - levels);
      if (after < 0) {
        return `sensor ${j}: ${
          savedWindowsError(shape.spec, f64, at, windows, f64.length - levels)
        }`;
      }
      a = after;
      if (levels > 0) {
        const level = f64[a + record - 1];
        if (level !== 0 && level !== 1 && level !== 2) {
          return `sensor ${j}: threshold level ${level}`;
        }
      }
      a += levels;
      if (levels > 0) totals.levels++;
      totals.windows += windows;
    }
    totals.slots += slots;
  }
  if (a !== f64.length || b !== u32.length || c !== i16.length) {
    return `${f64.length - a} numbers and ${
      u32.length - b + i16.length - c
    } integers after its last sensor`;
  }
  return null;
}
