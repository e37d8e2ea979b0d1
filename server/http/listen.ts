import { createApp } from "./app.ts";
import type { Routes } from "./app.ts";
import { allowedHosts, NO_HOSTS } from "./allowed_hosts.ts";
import type { AllowedHosts } from "./allowed_hosts.ts";
import { serve } from "./server.ts";
import type { HttpServer } from "./server.ts";
import type { TransportStats } from "./transport_stats.ts";

/** The options (`server/config`) the HTTP server is made from. */
export interface ListenConfig {
  port: number;
  host: string;
  certFile: string | null;
  keyFile: string | null;
  allowedHosts: string[];
  allowedOrigins: string[] | null;
  corsOrigins: string[] | null;
  headerTimeoutMs: number;
  idleTimeoutMs: number;
}

/**
 * Serves the routes over HTTP (or HTTPS with `--cert`/`--key`) on the
 * configured address. The hosts the server answers to are known once it
 * listens (port 0 picks one); until then nothing is allowed, and they are
 * set before the first request is handled.
 */
export async function listen(
  routes: Omit<Routes, "hosts" | "corsOrigins" | "allowedOrigins">,
  config: ListenConfig & { stats?: TransportStats },
): Promise<{ server: HttpServer; url: URL }> {
  const tls = config.certFile && config.keyFile
    ? {
      cert: await Deno.readTextFile(config.certFile),
      key: await Deno.readTextFile(config.keyFile),
    }
    : null;
  let hosts: AllowedHosts = NO_HOSTS;
  const app = createApp({
    ...routes,
    hosts: () => hosts,
    allowedOrigins: config.allowedOrigins,
    corsOrigins: config.corsOrigins,
  });
  const server = await serve(app, {
    port: config.port,
    hostname: config.host,
    tls,
    headerTimeoutMs: config.headerTimeoutMs,
    idleTimeoutMs: config.idleTimeoutMs,
    stats: config.stats,
    onListen: (address) => {
      hosts = allowedHosts(address, {
        scheme: tls ? "https:" : "http:",
        names: config.allowedHosts,
        interfaces: interfaceAddresses(),
      });
    },
  });
  const host = server.hostname.includes(":") ? `[${server.hostname}]` : server.hostname;
  return { server, url: new URL(`${server.secure ? "https" : "http"}://${host}:${server.port}/`) };
}

/** This machine's addresses, which a wildcard listener answers to as Hosts. */
function interfaceAddresses(): string[] {
  try {
    return Deno.networkInterfaces().map((i) => i.address);
  } catch {
    return []; // without --allow-sys: loopback names and --allowed-hosts only
  }
}
