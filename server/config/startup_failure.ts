// Why the server could not start, in words that name the option to change.
// Node's "listen EADDRINUSE: address already in use 127.0.0.1:8000" or Deno's
// "NotFound: No such file or directory (os error 2): readfile '/x.pem'" name
// neither the option nor what to do, and came with a stack trace.
import { OPTIONS } from "./options.ts";
import type { Config } from "./options.ts";

/** The sentence for a failed start, or null when `error` is not one this knows. */
export function startupFailure(error: unknown, config: Config): string | null {
  return listenFailure(error, config) ?? fileFailure(error, config);
}

/** A listener that could not start. */
export function listenFailure(
  error: unknown,
  config: Pick<Config, "port" | "host" | "mqttPort" | "mqttsPort">,
): string | null {
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

/** Deno's file errors, by class: what went wrong with the file, in words. */
const FILE_ERRORS: [new (...args: never[]) => Error, string][] = [
  [Deno.errors.NotFound, "there is no such file"],
  [Deno.errors.PermissionDenied, "permission denied"],
  [Deno.errors.IsADirectory, "it is a directory, not a file"],
  [Deno.errors.NotADirectory, "a part of its path is not a directory"],
  // Making its directory (`--data`), where a part of the path is a file.
  [Deno.errors.AlreadyExists, "a part of its path is a file, not a directory"],
];

/**
 * A file named by an option that could not be read or opened: which option,
 * which file, and why. The file is the path Deno's message ends with (or
 * `error.path`), matched against the options' values.
 */
export function fileFailure(error: unknown, config: Config): string | null {
  if (!(error instanceof Error)) return null;
  const known = FILE_ERRORS.find(([kind]) => error instanceof kind);
  const path = (error as Error & { path?: unknown }).path ??
    error.message.match(/'([^']+)'$/)?.[1];
  if (typeof path !== "string") return null;
  const option = OPTIONS.find((o) => config[o.key] === path);
  if (!option) return null;
  const why = known ? known[1] : error.message;
  return `Cannot use ${path} (--${option.flag}): ${why}.`;
}
