import { sliceRows } from "../../protocol/reading_block.ts";
import type { ReadingBlock } from "../../protocol/reading_block.ts";
import { encodeReadingBlock } from "../../protocol/ingest_codec.ts";

/** One encoded chunk and the readings in it. */
export interface Chunk {
  bytes: Uint8Array;
  block: ReadingBlock;
}

/** Deno KV refuses values over 64 KiB. */
export const KV_VALUE_LIMIT = 65_536;

/**
 * Encodes blocks into log chunks of at most `maxBytes`, one block at a time.
 * A verified batch that fits is stored as it arrived; a block that fits is
 * encoded as it is; a larger one is cut into row ranges by its size estimate
 * (`sliceRows`: columns copied whole, strings re-indexed through a table),
 * so no work is done per reading beyond array copies and the encoding.
 */
export class Chunker {
  readonly #maxBytes: number;
  readonly #maxRows: number;
  readonly #chunks: Chunk[] = [];

  /**
   * `maxRows` bounds the readings of one chunk (default: none), for appends
   * whose records ride along with each chunk's commit: Deno KV takes at most
   * 1000 mutations in one atomic operation.
   */
  constructor(options: { maxBytes?: number; maxRows?: number } = {}) {
    this.#maxBytes = Math.min(options.maxBytes ?? 60_000, KV_VALUE_LIMIT);
    this.#maxRows = Math.max(1, options.maxRows ?? Infinity);
  }

  /** Adds a block's readings. */
  add(block: ReadingBlock): void {
    if (block.length === 0) return;
    // A verified batch that is small enough is stored as it arrived: no re-encoding.
    if (
      block.encoded && block.encoded.byteLength <= this.#maxBytes && block.length <= this.#maxRows
    ) {
      const { encoded } = block;
      // A view would store its whole backing buffer: copy it out.
      const bytes = encoded.byteLength === encoded.buffer.byteLength ? encoded : encoded.slice();
      this.#chunks.push({ bytes, block });
      return;
    }
    const pieces = Math.max(
      Math.ceil(estimateBytes(block) / this.#maxBytes),
      Math.ceil(block.length / this.#maxRows),
    );
    for (let k = 0; k < pieces; k++) {
      const from = Math.floor((k * block.length) / pieces);
      const to = Math.floor(((k + 1) * block.length) / pieces);
      if (to > from) this.#seal(pieces === 1 ? block : sliceRows(block, from, to));
    }
  }

  /** Returns every chunk so far, with the readings each holds, emptying the chunker. */
  finishChunks(): Chunk[] {
    return this.#chunks.splice(0);
  }

  /** Chunks made so far. */
  get pendingChunks(): number {
    return this.#chunks.length;
  }

  #seal(block: ReadingBlock): void {
    const bytes = encodeReadingBlock(block);
    if (
      (bytes.byteLength <= this.#maxBytes && block.length <= this.#maxRows) || block.length === 1
    ) {
      if (bytes.byteLength > KV_VALUE_LIMIT) {
        throw new RangeError(
          `Cannot store a reading of ${bytes.byteLength} bytes in one log chunk`,
        );
      }
      this.#chunks.push({ bytes, block });
      return;
    }
    // The estimate was short: split in halves.
    const half = Math.floor(block.length / 2);
    this.#seal(sliceRows(block, 0, half));
    this.#seal(sliceRows(block, half, block.length));
  }
}

/** An upper estimate of a block's encoded size. */
export function estimateBytes(block: ReadingBlock): number {
  let chars = 0;
  for (const s of block.strings) chars += s.length;
  return sizeEstimate(block.length, block.value.length, block.strings.length, chars);
}

// Columns per reading and value, plus UTF-8 (at most 3 bytes a UTF-16 unit) and
// per-string overhead (offset, length, terminator, padding).
function sizeEstimate(readings: number, values: number, strings: number, chars: number): number {
  return 96 + readings * 24 + values * 12 + strings * 12 + chars * 3;
}
