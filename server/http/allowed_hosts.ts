/**
 * The names this server answers to. A page on attacker.example whose DNS
 * name is made to resolve to this server (DNS rebinding) is same-origin for
 * the browser, so CORS and Origin checks against the request's own Host do
 * not stop it; only a Host allow-list does. Every request is checked against
 * it (app.ts), and the feed's own origin is derived from it, never from the
 * request.
 */

/** A parsed `host[:port]`: lower-case name (IPv6 in brackets, canonical), and port or null. */
export interface HostPort {
  name: string;
  port: number | null;
}

/** Whether requests may use this server: by Host, and by Origin for the feed. */
export interface AllowedHosts {
  readonly scheme: "http:" | "https:";
  /** Whether a Host header value (`name[:port]`) names this server. */
  allows(host: string): boolean;
  /** Whether an Origin header is this server's own: its scheme and an allowed host. */
  isOwnOrigin(origin: string): boolean;
}

const HOST = /^(\[[0-9a-f:.]+\]|[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?)(?::(\d{1,5}))?$/;
const DEFAULT_PORT = { "http:": 80, "https:": 443 } as const;
const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"];

/** Parses `name[:port]`; null when it is not one (userinfo, paths, a trailing dot, bad port). */
export function parseHost(text: string): HostPort | null {
  const match = HOST.exec(text.toLowerCase());
  if (!match) return null;
  const port = match[2] === undefined ? null : Number(match[2]);
  if (port !== null && (port < 1 || port > 65_535)) return null;
  let name = match[1];
  if (name.startsWith("[")) {
    // One spelling per IPv6 address: [0:0::1] is [::1].
    try {
      name = new URL(`http://${name}/`).hostname;
    } catch {
      return null;
    }
  }
  return { name, port };
}

/** Parses one `--allowed-hosts` entry; throws a TypeError that names it. */
export function parseAllowedHost(entry: string): string {
  const parsed = parseHost(entry);
  if (parsed === null) {
    throw new TypeError(
      `--allowed-hosts: "${entry}" is not a host name or address with an optional port, ` +
        "like dash.example.com or dash.example.com:8443",
    );
  }
  return format(parsed);
}

/** The Host a request names: its Host header, else its URL's authority (HTTP/2, HTTP/1.0). */
export function requestHost(request: Request): string {
  return request.headers.get("host") ?? new URL(request.url).host;
}

/** Allows nothing: what requests meet before the listener is known. */
export const NO_HOSTS: AllowedHosts = {
  scheme: "http:",
  allows: () => false,
  isOwnOrigin: () => false,
};

/**
 * The hosts a listener answers to: its address with its port; on loopback
 * also `localhost`, `127.0.0.1` and `[::1]` with the port; on a wildcard
 * address (`0.0.0.0`, `::`) those and `interfaces` (this machine's
 * addresses) with the port; and `names` (`--allowed-hosts`), where an entry
 * without a port matches any port and one with a port only that port. A Host
 * without a port means the scheme's default port.
 */
export function allowedHosts(
  listener: { hostname: string; port: number },
  options: {
    scheme: "http:" | "https:";
    names?: readonly string[];
    interfaces?: readonly string[];
  },
): AllowedHosts {
  const { scheme } = options;
  const anyPort = new Set<string>();
  const exact = new Set<string>();
  const add = (host: HostPort) =>
    host.port === null ? anyPort.add(host.name) : exact.add(format(host));
  for (const entry of options.names ?? []) {
    const parsed = parseHost(entry);
    if (parsed === null) throw new TypeError(`not a host: "${entry}"`);
    add(parsed);
  }
  const bound = literal(listener.hostname);
  const wildcard = bound === "0.0.0.0" || bound === "[::]";
  const own = wildcard ? [] : [bound];
  if (wildcard || isLoopback(bound)) own.push(...LOOPBACK_NAMES);
  if (wildcard) own.push(...(options.interfaces ?? []).map(literal));
  for (const name of own) {
    const parsed = parseHost(name);
    if (parsed !== null) add({ name: parsed.name, port: listener.port });
  }
  const allows = (host: string): boolean => {
    const parsed = parseHost(host);
    if (parsed === null) return false;
    if (anyPort.has(parsed.name)) return true;
    return exact.has(format({ name: parsed.name, port: parsed.port ?? DEFAULT_PORT[scheme] }));
  };
  return {
    scheme,
    allows,
    isOwnOrigin(origin: string): boolean {
      let url: URL;
      try {
        url = new URL(origin);
      } catch {
        return false; // "null" (sandboxed frames, file: pages) and anything unparsable
      }
      // url.host leaves out the scheme's default port, which allows() puts back.
      return url.origin === origin && url.protocol === scheme && allows(url.host);
    },
  };
}

function format(host: HostPort): string {
  return host.port === null ? host.name : `${host.name}:${host.port}`;
}

/** An address as a Host names it: IPv6 in brackets. */
function literal(address: string): string {
  return address.includes(":") && !address.startsWith("[") ? `[${address}]` : address;
}

function isLoopback(name: string): boolean {
  return name === "localhost" || name === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(name);
}
