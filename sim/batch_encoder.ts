import { Fleet, METRICS } from "./fleet.ts";
import { IngestBatchWriter } from "../protocol/ingest_batch_writer.ts";

/** A request body and its Content-Type. */
export interface Body {
  bytes: Uint8Array<ArrayBuffer> | string;
  contentType: "application/x-flatbuffers" | "application/json";
}

/**
 * Turns the fleet's next readings into one ingest request body: a FlatBuffers
 * IngestBatch, or a JSON array of documents. Sensors come in the fleet's
 * report order. Only the FlatBuffers path avoids allocation per reading.
 */
export class BatchEncoder {
  readonly #fleet: Fleet;
  readonly #json: boolean;
  readonly #writer = new IngestBatchWriter();
  readonly #values = new Float64Array(METRICS.length);
  /** Per sensor, the start of its JSON document (ids and groups escaped once). */
  #jsonPrefix: string[] = [];

  constructor(fleet: Fleet, options: { json?: boolean } = {}) {
    this.#fleet = fleet;
    this.#json = options.json ?? false;
    if (this.#json) {
      this.#jsonPrefix = fleet.ids.map((id, s) =>
        `{"sensorId":${JSON.stringify(id)},"group":${JSON.stringify(fleet.groups[s])},"timestamp":`
      );
    }
  }

  /** The next `count` readings, all stamped `timeMs` (event time: now). */
  next(count: number, timeMs: number): Body {
    return this.#json ? this.#nextJson(count, timeMs) : this.#nextFlatBuffers(count, timeMs);
  }

  /** The next `count` readings as documents in the ingest shape (for direct MongoDB inserts). */
  documents(count: number, timeMs: number): Record<string, unknown>[] {
    const fleet = this.#fleet;
    const values = this.#values;
    const timestamp = new Date(timeMs);
    const docs = new Array<Record<string, unknown>>(count);
    for (let i = 0; i < count; i++) {
      const sensor = fleet.nextSensor();
      const status = fleet.read(sensor, timeMs, values);
      const reading: Record<string, number> = {};
      for (let k = 0; k < METRICS.length; k++) reading[METRICS[k]] = values[k];
      docs[i] = {
        sensorId: fleet.ids[sensor],
        group: fleet.groups[sensor],
        timestamp,
        reading,
        status,
      };
    }
    return docs;
  }

  #nextFlatBuffers(count: number, timeMs: number): Body {
    const fleet = this.#fleet;
    const values = this.#values;
    for (let i = 0; i < count; i++) {
      const sensor = fleet.nextSensor();
      const status = fleet.read(sensor, timeMs, values);
      this.#writer.add(fleet.ids[sensor], fleet.groups[sensor], timeMs, METRICS, values, status);
    }
    return { bytes: this.#writer.finish(), contentType: "application/x-flatbuffers" };
  }

  #nextJson(count: number, timeMs: number): Body {
    const fleet = this.#fleet;
    const values = this.#values;
    const timestamp = JSON.stringify(new Date(timeMs).toISOString());
    const docs = new Array<string>(count);
    for (let i = 0; i < count; i++) {
      const sensor = fleet.nextSensor();
      const status = fleet.read(sensor, timeMs, values);
      let reading = "";
      for (let k = 0; k < METRICS.length; k++) {
        reading += `${k ? "," : ""}"${METRICS[k]}":${values[k]}`;
      }
      docs[i] = `${
        this.#jsonPrefix[sensor]
      }${timestamp},"reading":{${reading}},"status":"${status}"}`;
    }
    return { bytes: `[${docs.join(",")}]`, contentType: "application/json" };
  }
}
