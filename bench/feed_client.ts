import { decodeServerFrame, encodePong, peekServerFrame } from "../protocol/mod.ts";
import type { DeltaEvent } from "../protocol/mod.ts";
import { LatencyHistogram } from "./latency_histogram.ts";

/**
 * A dashboard stand-in for the benchmark: subscribes to everything, decodes
 * every Delta as the dashboard does (protocol's `decodeServerFrame`), checks
 * that Deltas follow the Snapshot with contiguous seq, and measures
 * event-time-to-receipt latency and bytes per update.
 */
export class BenchFeedClient {
  readonly socket: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<void>;
  readonly latency = new LatencyHistogram();
  /** Counters since the last `reset`. */
  deltas = 0;
  deltaBytes = 0;
  /** Sensor-metric updates, and distinct sensors per Delta summed over Deltas. */
  updates = 0;
  sensorUpdates = 0;
  snapshots = 0;
  /** Deltas whose seq did not follow the previous frame's, or came before any Snapshot. */
  gaps = 0;
  /** Snapshots with catch_up set: the server skipped deltas because this client was slow. */
  catchUps = 0;
  #epoch = -1;
  #seq = -1;
  /** Per sensor index, the last Delta it was counted in (distinct sensors per Delta, no Set). */
  #stamp = new Uint32Array(1024);
  #frame = 0;

  constructor(baseUrl: string, options: { openTimeoutMs?: number } = {}) {
    const url = new URL("/ws", baseUrl);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    this.socket = new WebSocket(url);
    this.socket.binaryType = "arraybuffer";
    const timeoutMs = options.openTimeoutMs ?? 10_000;
    this.opened = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`WebSocket ${url} did not open within ${timeoutMs} ms`));
        this.socket.close();
      }, timeoutMs);
      this.socket.onopen = () => {
        clearTimeout(timer);
        resolve();
      };
      this.socket.onerror = () => {
        clearTimeout(timer);
        reject(new Error(`WebSocket ${url} failed to open`));
      };
    });
    this.opened.catch(() => {}); // the caller awaits it; avoid an unhandled rejection meanwhile
    this.closed = new Promise((resolve) => this.socket.addEventListener("close", () => resolve()));
    this.socket.onmessage = (event) => this.#onFrame(new Uint8Array(event.data as ArrayBuffer));
  }

  /** Starts a new measurement window (sequence tracking carries on). */
  reset(): void {
    this.latency.reset();
    this.deltas =
      this.deltaBytes =
      this.updates =
      this.sensorUpdates =
        0;
    this.snapshots = this.gaps = this.catchUps = 0;
  }

  /** Closes the socket and waits (at most `timeoutMs`) for the close to complete. */
  async close(timeoutMs = 3_000): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    this.socket.close(1000);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.closed,
      new Promise((r) => (timer = setTimeout(r, timeoutMs))),
    ]);
    clearTimeout(timer);
  }

  #onFrame(bytes: Uint8Array): void {
    const now = Date.now();
    const header = peekServerFrame(bytes);
    switch (header.type) {
      case "ping":
        this.socket.send(encodePong(header.nonce));
        return;
      case "snapshot":
        this.snapshots++;
        if (header.catchUp) this.catchUps++;
        this.#epoch = header.epoch;
        this.#seq = header.seq;
        return;
      case "delta":
        this.#onDelta(decodeServerFrame(bytes) as DeltaEvent, bytes.byteLength, now);
        return;
      default:
        return; // Subscribed, Error: not part of the measurement
    }
  }

  #onDelta(delta: DeltaEvent, size: number, now: number): void {
    if (this.#seq < 0 || delta.epoch !== this.#epoch || delta.seq !== this.#seq + 1) this.gaps++;
    this.#epoch = delta.epoch;
    this.#seq = delta.seq;
    this.deltas++;
    this.deltaBytes += size;
    const frame = ++this.#frame;
    const { length: n, sensor: sensors, timeMs } = delta.updates;
    for (let i = 0; i < n; i++) {
      const sensor = sensors[i];
      if (sensor >= this.#stamp.length) {
        const grown = new Uint32Array(Math.max(sensor + 1, this.#stamp.length * 2));
        grown.set(this.#stamp);
        this.#stamp = grown;
      }
      if (this.#stamp[sensor] !== frame) {
        this.#stamp[sensor] = frame;
        this.sensorUpdates++;
      }
      this.latency.add(now - timeMs[i]);
    }
    this.updates += n;
  }
}
