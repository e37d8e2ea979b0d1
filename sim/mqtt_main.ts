// The `--mqtt` branch of `deno task sim`: flags already read by sim/main.ts.
import { formatMqttReport, runMqttSimulator } from "./mqtt.ts";

/** Runs the MQTT simulator until Ctrl-C or `duration`; returns the exit code. */
export async function runMqttSimulatorMain(
  url: string,
  flags: {
    sensors: number;
    rate: number;
    seed?: number;
    apiKey?: string;
    duration?: number;
    gateways?: string;
    qos?: string;
    batch?: number;
  },
  fail: (message: string) => never,
): Promise<number> {
  if (!/^mqtts?:\/\/[^/]+/.test(url)) fail("--mqtt must be a URL like mqtt://127.0.0.1:1883");
  const gateways = flags.gateways === undefined ? undefined : Number(flags.gateways);
  if (gateways !== undefined && !(Number.isInteger(gateways) && gateways > 0)) {
    fail(`--gateways must be a positive integer, got "${flags.gateways}"`);
  }
  const qos = Number(flags.qos ?? 1);
  if (qos !== 0 && qos !== 1 && qos !== 2) fail(`--qos must be 0, 1 or 2, got "${flags.qos}"`);
  const controller = new AbortController();
  const stop = () => controller.abort();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  const timer = flags.duration === undefined ? undefined : setTimeout(stop, flags.duration * 1000);
  console.log(
    `sim: ${flags.sensors} sensors at ${flags.rate} readings/s over MQTT (QoS ${qos}) to ${url}${
      flags.duration === undefined ? " until Ctrl-C" : ` for ${flags.duration} s`
    }`,
  );
  const report = await runMqttSimulator({
    url,
    sensors: flags.sensors,
    rate: flags.rate,
    gateways,
    batch: flags.batch,
    qos: qos as 0 | 1 | 2,
    seed: flags.seed,
    apiKey: flags.apiKey,
    onReport: (r) => console.log(formatMqttReport(r)),
  }, controller.signal);
  clearTimeout(timer);
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  console.log(formatMqttReport(report, true));
  return 0;
}
