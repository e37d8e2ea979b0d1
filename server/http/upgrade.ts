import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Buffer } from "node:buffer";

/**
 * A request that asks to switch protocols, with the connection it came on.
 * The server (`http/server.ts`) offers it with the `Request` it hands to the
 * routes; the route that takes it (`http/websocket.ts`) owns the connection
 * from then on and answers with `switched()`. Any other answer is written
 * to the connection as a plain HTTP response, which then closes.
 */
export interface RawUpgrade {
  request: IncomingMessage;
  socket: Duplex;
  /** Bytes the client sent after the request head. */
  head: Buffer;
}

const offered = new WeakMap<Request, RawUpgrade>();
const taken = new WeakSet<Response>();

export function offerUpgrade(request: Request, upgrade: RawUpgrade): void {
  offered.set(request, upgrade);
}

/** The connection behind an upgrade request, once; null for a plain request. */
export function takeUpgrade(request: Request): RawUpgrade | null {
  const upgrade = offered.get(request) ?? null;
  offered.delete(request);
  return upgrade;
}

/** The answer of a route that took the connection: nothing more is written to it. */
export function switched(): Response {
  const response = new Response(null, { status: 200 });
  taken.add(response);
  return response;
}

export function wasSwitched(response: Response): boolean {
  return taken.has(response);
}
