// A listener that could not start, in words that name the option to change.
// Node's "listen EADDRINUSE: address already in use 127.0.0.1:8000" names
// neither the option nor what to do, and came with a stack trace.
import type { Config } from "./options.ts";

type Ports = Pick<Config, "port" | "host" | "mqttPort" | "mqttsPort">;

/** The sentence for a failed listen, or null when `error` is not one. */
export function listenFailure(error: unknown, config: Ports): string | null {
  if (typeof error !== "object" || error === null) return null;
  const { code, syscall, port } = error as { code?: unknown; syscall?: unknown; port?: unknown };
  if (syscall !== "listen" && syscall !== "bind") return null;
  const flag = port === config.port
    ? "--port"
    : port === config.mqttPort
    ? "--mqtt-port"
    : port === config.mqttsPort
    ? "--mqtts-port"
    : null;
  const where = `${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`;
  const named = flag ? ` (${flag})` : "";
  switch (code) {
    case "EADDRINUSE":
      return `Cannot listen on ${where}${named}: the port is in use by another program. ` +
        `Stop it, or choose another port${flag ? ` with ${flag}` : ""} (0 picks a free one).`;
    case "EACCES":
      return `Cannot listen on ${where}${named}: permission denied. ` +
        `Ports below 1024 need privileges; choose a port of 1024 or more.`;
    case "EADDRNOTAVAIL":
      return `Cannot listen on ${where}: ${config.host} is not an address of this machine ` +
        `(--host); use 127.0.0.1, or 0.0.0.0 for every interface.`;
    default:
      return null;
  }
}
