// A connect storm of MQTT devices on raw sockets (pre-encoded packets, so the
// client costs little): every device connects at once, publishes one QoS 1
// reading, waits for its PUBACK and stays connected. Used by
// tests/mqtt_storm_test.ts and `deno task bench --mqtt-storm`.
import net from "node:net";
import mqttPacket from "mqtt-packet";

export interface StormReport {
  devices: number;
  /** Devices that got their CONNACK (0) and their PUBACK. */
  acknowledged: number;
  failed: number;
  /** First failure reasons, a few. */
  failures: string[];
  /** From the start to the last PUBACK. */
  seconds: number;
  connackP50Ms: number;
  connackP99Ms: number;
  pubackP50Ms: number;
  pubackP99Ms: number;
}

export interface Storm {
  done: Promise<StormReport>;
  /** Closes every device's connection. */
  close(): Promise<void>;
}

const encode = (packet: Record<string, unknown>) => mqttPacket.generate(packet as never);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]);
}

/** Starts `devices` connections to 127.0.0.1:`port` at once. */
export function connectStorm(
  port: number,
  devices: number,
  options: { password?: string; timeoutMs?: number; prefix?: string } = {},
): Storm {
  const started = performance.now();
  const sockets: net.Socket[] = [];
  const connacks: number[] = [];
  const pubacks: number[] = [];
  const failures: string[] = [];
  let failed = 0;
  let settled = 0;
  let last = started;
  const { promise, resolve } = Promise.withResolvers<StormReport>();
  const prefix = options.prefix ?? "storm";
  const finish = () => {
    if (++settled < devices) return;
    connacks.sort((a, b) => a - b);
    pubacks.sort((a, b) => a - b);
    resolve({
      devices,
      acknowledged: pubacks.length,
      failed,
      failures: failures.slice(0, 5),
      seconds: (last - started) / 1000,
      connackP50Ms: percentile(connacks, 50),
      connackP99Ms: percentile(connacks, 99),
      pubackP50Ms: percentile(pubacks, 50),
      pubackP99Ms: percentile(pubacks, 99),
    });
  };
  for (let i = 0; i < devices; i++) {
    const connect = encode({
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: 4,
      clean: true,
      clientId: `${prefix}-${i}`,
      keepalive: 0,
      ...(options.password ? { username: "device", password: options.password } : {}),
    });
    const publish = encode({
      cmd: "publish",
      topic: `pulseboard/${prefix}/d${i}`,
      payload: JSON.stringify({ reading: { v: i } }),
      qos: 1,
      messageId: 1,
      retain: false,
      dup: false,
    });
    const socket = net.connect({ host: "127.0.0.1", port });
    sockets.push(socket);
    let state: "connecting" | "publishing" | "done" = "connecting";
    let buffered = new Uint8Array(0);
    const fail = (why: string) => {
      if (state === "done") return;
      state = "done";
      failed++;
      if (failures.length < 5) failures.push(`device ${i}: ${why}`);
      last = performance.now();
      finish();
    };
    const timer = setTimeout(() => fail("timed out"), options.timeoutMs ?? 120_000);
    socket.on("connect", () => socket.write(connect));
    socket.on("data", (data: Uint8Array) => {
      const all = new Uint8Array(buffered.byteLength + data.byteLength);
      all.set(buffered);
      all.set(data, buffered.byteLength);
      buffered = all;
      // CONNACK and PUBACK are both 4 bytes: 0x20 02 00 rc, 0x40 02 id id.
      while (buffered.byteLength >= 4 && state !== "done") {
        const packet = buffered.subarray(0, 4);
        buffered = buffered.slice(4);
        const now = performance.now();
        if (state === "connecting") {
          if (packet[0] !== 0x20 || packet[3] !== 0) return fail(`CONNACK ${packet.join(" ")}`);
          connacks.push(now - started);
          state = "publishing";
          socket.write(publish);
        } else if (packet[0] === 0x40) {
          pubacks.push(now - started);
          state = "done";
          clearTimeout(timer);
          last = now;
          finish();
        } else return fail(`unexpected ${packet.join(" ")}`);
      }
    });
    socket.on("error", (error: Error) => fail(error.message));
    socket.on("close", () => {
      clearTimeout(timer);
      fail("closed");
    });
  }
  return {
    done: promise,
    close: async () => {
      await Promise.all(sockets.map((socket) =>
        new Promise<void>((resolve) => {
          if (socket.destroyed) return resolve();
          socket.once("close", () => resolve());
          socket.destroy();
        })
      ));
    },
  };
}
