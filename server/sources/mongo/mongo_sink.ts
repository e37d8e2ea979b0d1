import type { Collection, Document } from "mongodb";
import type { ReadingBlock } from "../../../protocol/reading_block.ts";

/** Readings of a block as documents in the ingest shape, `timestamp` as a BSON date. */
export function blockDocuments(block: ReadingBlock): Document[] {
  const s = block.strings;
  const docs: Document[] = new Array(block.length);
  for (let row = 0; row < block.length; row++) {
    const reading: Record<string, number> = {};
    for (let v = block.metricStart[row]; v < block.metricStart[row + 1]; v++) {
      reading[s[block.metric[v]]] = block.value[v];
    }
    const doc: Document = {
      sensorId: s[block.sensor[row]],
      timestamp: new Date(block.timeMs[row]),
      reading,
    };
    const group = s[block.group[row]];
    const status = s[block.status[row]];
    if (group !== "") doc.group = group;
    if (status !== "") doc.status = status;
    docs[row] = doc;
  }
  return docs;
}

/**
 * The ingest sink in mongo mode: accepted readings are inserted into the
 * collection (unordered, majority write concern) and the request is answered
 * only after MongoDB acknowledged them. They come back to the dashboards
 * through the change stream, like any other writer's documents.
 */
export class MongoSink {
  readonly #collection: Collection<Document>;

  constructor(collection: Collection<Document>) {
    this.#collection = collection;
  }

  async append(block: ReadingBlock): Promise<void> {
    if (block.length === 0) return;
    try {
      await this.#collection.insertMany(blockDocuments(block), {
        ordered: false,
        writeConcern: { w: "majority" },
      });
    } catch (error) {
      // Unreachable: 503 with Retry-After, so writers back off and retry.
      if (isNetwork(error)) {
        throw new Deno.errors.Busy(
          `Cannot ingest: MongoDB is unreachable (${(error as Error).message})`,
        );
      }
      throw error;
    }
  }
}

/** Nothing reached the server: selection or the connection failed (also wrapped in a bulk write error). */
function isNetwork(error: unknown): boolean {
  const e = error as { name?: unknown; errorResponse?: { name?: unknown } };
  return [e?.name, e?.errorResponse?.name].some((name) =>
    typeof name === "string" &&
    /MongoServerSelectionError|MongoNetwork|MongoTopologyClosed|MongoNotConnected/.test(name)
  );
}
