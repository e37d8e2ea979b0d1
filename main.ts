// Reads the arguments, starts Pulseboard, and stops it on SIGINT or SIGTERM.
import { parseConfig, startupFailure, USAGE } from "./server/config/mod.ts";
import type { Config } from "./server/config/mod.ts";
import type { ShardImage } from "./actors/mod.ts";
import { openStoreFor } from "./server/store/open_store.ts";

if (import.meta.main) {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(USAGE);
    Deno.exit(0);
  }
  let config: Config;
  try {
    config = parseConfig(Deno.args);
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    Deno.exit(2);
  }
  // The checkpoint is read (on Deno KV's thread) while the server's modules load.
  const store = openStoreFor<ShardImage>(config);
  store.catch(() => {}); // startPulseboard reports it
  const { startPulseboard } = await import("./server/pulseboard.ts");
  const pulseboard = await startPulseboard(config, { store }).catch((error) => {
    console.error(
      startupFailure(error, config) ??
        (error instanceof Deno.errors.PermissionDenied || error instanceof TypeError
          ? error.message
          : error),
    );
    Deno.exit(1);
  });
  console.log(`Pulseboard listening on ${pulseboard.url.href}`);
  if (pulseboard.mqttUrls.length) console.log(`MQTT listening on ${pulseboard.mqttUrls.join(" ")}`);
  pulseboard.fatal.then(async (error) => {
    console.error(error.message);
    await pulseboard.shutdown().catch(() => {});
    Deno.exit(1);
  });
  const stop = () => {
    pulseboard.shutdown().then(() => Deno.exit(0));
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
