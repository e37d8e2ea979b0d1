import { sliceRows } from "../../protocol/reading_block.ts";
import type { ReadingBlock } from "../../protocol/reading_block.ts";
import {
  encodeReadingBlock,
  STAMP_BYTES,
  stampIngestBatch,
  stampIngestBatchInPlace,
} from "../../protocol/ingest_codec.ts";

/** One encoded chunk and the readings in it. */
export interface Chunk {
  bytes: Uint8Array;
  block: ReadingBlock;
}

/** Deno KV refuses values over 64 KiB. */
export const KV_VALUE_LIMIT = 65_536;

/**
 * Encodes blocks into log chunks of at most `maxBytes`, one block at a time.
 * A verified batch that fits is stored as it arrived (behind a new root
 * table when stamped: `stampIngestBatch`, written into the room before an
 * ingest body read with it); a block that fits is encoded as
 * it is; a larger one is cut into row ranges by its size estimate
 * (`sliceRows`: columns copied whole, strings re-indexed through a table),
 * so no work is done per reading beyond array copies and the encoding.
 * With `acceptedMs`, every chunk records it (`accepted_ms`) and every
 * chunk's block carries it.
 */
export class Chunker {
  readonly #maxBytes: number;
  readonly #maxRows: number;
  readonly #acceptedMs: number | undefined;
  readonly #chunks: Chunk[] = [];

  /**
   * `maxRows` bounds the readings of one chunk (default: none), for appends
   * whose records ride along with each chunk's commit: Deno KV takes at most
   * 1000 mutations in one atomic operation. `acceptedMs`: when the server
   * accepted the readings (ms since the epoch), recorded in every chunk.
   */
  constructor(options: { maxBytes?: number; maxRows?: number; acceptedMs?: number } = {}) {
    this.#maxBytes = Math.min(options.maxBytes ?? 60_000, KV_VALUE_LIMIT);
    this.#maxRows = Math.max(1, options.maxRows ?? Infinity);
    this.#acceptedMs = options.acceptedMs;
  }

  /** Adds a block's readings. */
  add(block: ReadingBlock): void {
    if (block.length === 0) return;
    const accepted = this.#acceptedMs;
    // A verified batch that is small enough is stored as it arrived: no re-encoding.
    if (
      block.encoded && block.length <= this.#maxRows &&
      block.encoded.byteLength + (accepted === undefined ? 0 : STAMP_BYTES) <= this.#maxBytes
    ) {
      const { encoded } = block;
      if (accepted !== undefined) {
        this.#chunks.push({
          // A body read with room for the stamp gets it in place: no copy of its bytes.
          bytes: block.stampRoom
            ? stampIngestBatchInPlace(encoded as Uint8Array<ArrayBuffer>, accepted)
            : stampIngestBatch(encoded, accepted),
          // Its room now holds this chunk's stamp: never stamped in place again.
          block: { ...block, acceptedMs: accepted, stampRoom: undefined },
        });
        return;
      }
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
    const accepted = this.#acceptedMs;
    const bytes = encodeReadingBlock(block, undefined, accepted);
    if (
      (bytes.byteLength <= this.#maxBytes && block.length <= this.#maxRows) || block.length === 1
    ) {
      if (bytes.byteLength > KV_VALUE_LIMIT) {
        throw new RangeError(
          `Cannot store a reading of ${bytes.byteLength} bytes in one log chunk`,
        );
      }
      this.#chunks.push({
        bytes,
        block: accepted === undefined ? block : { ...block, acceptedMs: accepted },
      });
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
