// Which blocks of sensors may hold one due to be judged again, so a tick
// scans those and not all 100,000: scanning every sensor for the few whose
// code stopped standing was ~0.6 ms of each tick with none due (and sensors
// reporting on time are never due: each reading resets the time).
import { grownCapacity } from "./capacity.ts";

/** Sensors a block: 100,000 sensors are ~400 bounds to look at a tick. */
export const BLOCK = 256;

/**
 * Per block of `BLOCK` sensor indexes, a time no later than the earliest
 * time any of its sensors is due (-Infinity: look at it now). A sensor's
 * due time only moves through `lower`, or through `rescanned` after its
 * block was looked at whole; so a block whose bound is past `now` holds no
 * sensor due at `now`.
 */
export class DueBlocks {
  #bound = new Float64Array(0);

  /** Room for sensors below `size` (new blocks are looked at first). */
  grow(size: number): void {
    const blocks = Math.ceil(size / BLOCK);
    if (blocks <= this.#bound.length) return;
    const bound = new Float64Array(grownCapacity(this.#bound.length, blocks)).fill(-Infinity);
    bound.set(this.#bound);
    this.#bound = bound;
  }

  get blocks(): number {
    return this.#bound.length;
  }

  /** `sensor` is due at `at` (NaN: at every look): its block's bound comes down to it. */
  lower(sensor: number, at: number): void {
    const b = (sensor / BLOCK) >>> 0;
    if (at !== at) this.#bound[b] = -Infinity;
    else if (at < this.#bound[b]) this.#bound[b] = at;
  }

  /** Whether block `b` may hold a sensor due at `now`. */
  due(b: number, now: number): boolean {
    return !(this.#bound[b] > now);
  }

  /** Block `b` was looked at whole: `earliest` is its sensors' earliest due time now (NaN: always). */
  rescanned(b: number, earliest: number): void {
    this.#bound[b] = earliest !== earliest ? -Infinity : earliest;
  }

  /** Every block is looked at next (a clock set back). */
  reset(): void {
    this.#bound.fill(-Infinity);
  }
}
