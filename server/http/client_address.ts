import proxyaddr from "proxy-addr";
import type { ConnectionInfo } from "./app.ts";

/** Decides which hops of X-Forwarded-For to believe (`--trusted-proxies`). */
export type ProxyTrust = (address: string, hop: number) => boolean;

/**
 * Compiles `--trusted-proxies`: addresses, CIDR ranges, or proxy-addr's
 * names (`loopback`, `linklocal`, `uniquelocal`). Throws a TypeError naming
 * the bad entry.
 */
export function compileProxyTrust(entries: readonly string[]): ProxyTrust | null {
  if (entries.length === 0) return null;
  try {
    return proxyaddr.compile([...entries]);
  } catch (error) {
    throw new TypeError(`--trusted-proxies: ${(error as Error).message}`);
  }
}

/**
 * The client's address: the peer's, or, when the peer is a trusted proxy,
 * the nearest X-Forwarded-For hop that is not one (a client can prepend
 * anything to that header, so hops beyond the first untrusted one are ignored).
 */
export function clientAddress(
  request: Request,
  info: ConnectionInfo | undefined,
  trust: ProxyTrust | null,
): string {
  const peer = info?.remoteAddr.hostname || "unknown";
  if (trust === null || peer === "unknown") return peer;
  const forwarded = request.headers.get("x-forwarded-for");
  const headers: Record<string, string> = forwarded === null
    ? {}
    : { "x-forwarded-for": forwarded };
  // proxy-addr reads a Node request's peer address and headers; nothing else.
  const shape = { connection: { remoteAddress: peer }, headers };
  return proxyaddr(shape as unknown as Parameters<typeof proxyaddr>[0], trust);
}
