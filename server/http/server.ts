import http from "node:http";
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { Buffer } from "node:buffer";
import { createHeaders, createRequest, sendResponse } from "@remix-run/node-fetch-server";
import type { ConnectionInfo, Handler } from "./app.ts";
import { errorResponse, problem } from "./errors.ts";
import { offerUpgrade, wasSwitched } from "./upgrade.ts";
import { wholeBodyOf } from "./whole_body.ts";
import { logger } from "../ops/logger.ts";
import type { TransportStats } from "./transport_stats.ts";

export interface ServeOptions {
  port: number;
  hostname: string;
  /** PEM certificate and key: serve HTTPS (and WSS) instead of HTTP. */
  tls?: { cert: string; key: string } | null;
  /** Time for a request's head (request line and headers), and for a TLS handshake. Default 10 000 ms. */
  headerTimeoutMs?: number;
  /** How long a keep-alive connection may sit idle between requests. Default 5 000 ms. */
  idleTimeoutMs?: number;
  /** Time for a whole request, body included. Default 120 000 ms. */
  requestTimeoutMs?: number;
  /** Called with the bound address once listening, before any request is handled. */
  onListen?: (address: { hostname: string; port: number }) => void;
  /** Where the open connections are counted for /healthz. */
  stats?: TransportStats;
}

export interface HttpServer {
  readonly hostname: string;
  readonly port: number;
  readonly secure: boolean;
  /** TCP connections open now: HTTP ones and upgraded feed sockets. */
  readonly connections: number;
  /** Resolves once the server has stopped and every connection is closed. */
  readonly finished: Promise<void>;
  /**
   * Stops accepting connections, lets what is in flight finish for up to
   * `graceMs` (default 2000), then closes every connection left, which
   * aborts the requests still running; resolves when their handlers have
   * settled (at most a second more).
   */
  shutdown(graceMs?: number): Promise<void>;
}

/**
 * Serves a fetch-style handler over `node:http` (or `node:https`): the
 * transport, with the timeouts `Deno.serve` lacks. A request line and
 * headers must arrive within `headerTimeoutMs` (slowloris), a whole request
 * within `requestTimeoutMs` (a slow body; the ingest route also answers 408
 * when its body stops arriving), and an idle keep-alive connection is closed
 * after `idleTimeoutMs`. Node answers those with 408 and closes the
 * connection. Upgrade requests reach the same handler, with their
 * connection offered through `http/upgrade.ts`.
 */
export async function serve(handler: Handler, options: ServeOptions): Promise<HttpServer> {
  const headerTimeoutMs = options.headerTimeoutMs ?? 10_000;
  const requestTimeoutMs = Math.max(options.requestTimeoutMs ?? 120_000, headerTimeoutMs);
  const timeouts = {
    headersTimeout: headerTimeoutMs,
    requestTimeout: requestTimeoutMs,
    keepAliveTimeout: options.idleTimeoutMs ?? 5_000,
    // Node looks for expired heads and requests on this interval (its default is 30 s).
    connectionsCheckingInterval: Math.min(1_000, Math.max(100, headerTimeoutMs / 4)),
  };
  const secure = Boolean(options.tls);
  let inFlight = 0;
  const run = async (request: Request, info: ConnectionInfo): Promise<Response> => {
    inFlight++;
    try {
      return await handler(request, info);
    } finally {
      inFlight--;
    }
  };
  const listener = (incoming: IncomingMessage, outgoing: ServerResponse) => {
    let request: Request;
    try {
      request = createRequest(incoming, outgoing);
    } catch (error) {
      void respond(outgoing, errorResponse(error)).catch(() => outgoing.destroy());
      return;
    }
    const socket = incoming.socket;
    const info = {
      remoteAddr: { hostname: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 },
    };
    run(request, info).then(
      (response) => send(outgoing, request, response),
      (error) => {
        // A handler that gave up because the client went away has no one to answer.
        if (request.signal.aborted && error === request.signal.reason) return;
        return send(outgoing, request, errorResponse(error));
      },
    ).catch((error) => {
      if (outgoing.headersSent) outgoing.destroy(error instanceof Error ? error : undefined);
      else void respond(outgoing, errorResponse(error)).catch(() => outgoing.destroy());
    });
  };
  const server = options.tls
    ? https.createServer({
      ...timeouts,
      cert: options.tls.cert,
      key: options.tls.key,
      handshakeTimeout: headerTimeoutMs,
    }, listener)
    : http.createServer(timeouts, listener);

  // TCP connections, counted; with TLS also the TLS sockets over them (to end both at a stop).
  const sockets = new Set<Socket>();
  const tlsSockets = new Set<Socket>();
  const counted = () => {
    if (options.stats) options.stats.connections = sockets.size;
  };
  // One listener function per set, not a closure per connection (10,000 feed sockets stay open).
  const track = (set: Set<Socket>) => {
    function untrack(this: Socket) {
      set.delete(this);
      counted();
    }
    return (socket: Socket) => {
      set.add(socket);
      counted();
      socket.on("close", untrack); // "close" comes once
    };
  };
  server.on("connection", track(sockets));
  if (secure) server.on("secureConnection", track(tlsSockets));

  server.on("upgrade", (incoming: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Until the route takes the connection, a reset must not become an uncaught error.
    socket.on("error", ignore);
    const address = (socket as Socket).remoteAddress ?? "unknown";
    const info = { remoteAddr: { hostname: address, port: (socket as Socket).remotePort ?? 0 } };
    let request: Request;
    try {
      request = new Request(
        `${secure ? "https" : "http"}://${incoming.headers.host ?? "localhost"}${incoming.url}`,
        { method: incoming.method, headers: createHeaders(incoming) },
      );
    } catch {
      void answerOnSocket(socket, problem(400, "The request URL or headers are malformed"));
      return;
    }
    offerUpgrade(request, { request: incoming, socket, head });
    run(request, info).then(
      (response) => wasSwitched(response) ? undefined : answerOnSocket(socket, response),
      (error) => answerOnSocket(socket, errorResponse(error)),
    ).catch(() => socket.destroy());
  });
  server.on("clientError", (error: Error & { code?: string }, socket: Duplex) => {
    const inProgress = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })
      ._httpMessage?.headersSent;
    if (error.code === "ECONNRESET" || !socket.writable || inProgress) {
      socket.destroy();
      return;
    }
    // Node's own answer is an empty 400/408/431: answer with the JSON error shape instead.
    const [status, detail] = error.code === "HPE_HEADER_OVERFLOW"
      ? [431, "The request head is larger than 16 KiB"]
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? [408, "The request did not arrive in time; send it promptly"]
      : [400, `The request is malformed (${error.code ?? error.message})`];
    logger.warn(status === 408 ? "request timed out" : "malformed request", { detail });
    void answerOnSocket(socket, problem(status, detail)).catch(() => socket.destroy());
  });

  const finished = new Promise<void>((resolve) => server.once("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => {
      server.off("error", reject);
      // A failed listen is the caller's to report; later errors are logged.
      server.on("error", (error) => logger.error("HTTP server error", { error }));
      const bound = server.address();
      if (bound !== null && typeof bound !== "string") {
        options.onListen?.({ hostname: bound.address, port: bound.port });
      }
      resolve();
    });
  });
  const bound = server.address();
  if (bound === null || typeof bound === "string") throw new TypeError("the server has no address");

  let stopping: Promise<void> | null = null;
  return {
    hostname: bound.address,
    port: bound.port,
    secure,
    get connections() {
      return sockets.size;
    },
    finished,
    shutdown(graceMs = 2_000) {
      return stopping ??= (async () => {
        server.close();
        const graceEnds = Date.now() + graceMs;
        // Idle keep-alive connections go at once; busy ones as their requests finish.
        while (sockets.size > 0 && Date.now() < graceEnds) {
          server.closeIdleConnections();
          await delay(25);
        }
        // What is left is unfinished: abort it.
        for (const socket of [...tlsSockets, ...sockets]) socket.destroy();
        const settleEnds = Date.now() + 1_000;
        while (inFlight > 0 && Date.now() < settleEnds) await delay(25);
        await Promise.race([finished, delay(1_000)]);
      })();
    },
  };
}

function ignore(): void {}

/** Writes `response` unless the client has gone (the request aborted, the connection closed). */
function send(outgoing: ServerResponse, request: Request, response: Response): Promise<void> {
  if (outgoing.destroyed || outgoing.writableEnded || request.signal.aborted) {
    return Promise.resolve();
  }
  return respond(outgoing, response);
}

/**
 * Writes a response: a body already whole in memory (`whole_body.ts`, the
 * JSON answers) with its length in one `end`; any other through the
 * adapter's streaming writer.
 */
function respond(outgoing: ServerResponse, response: Response): Promise<void> {
  const whole = wholeBodyOf(response);
  if (whole === undefined) return sendResponse(outgoing, response);
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of response.headers) {
    const had = headers[name];
    // Set-Cookie stays one header per value; Headers joins the others already.
    headers[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
  }
  headers["content-length"] = String(whole.byteLength);
  outgoing.writeHead(response.status, response.statusText, headers);
  if (outgoing.req.method === "HEAD") outgoing.end();
  else outgoing.end(whole);
  return Promise.resolve();
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Writes a whole response to a connection that was not upgraded, then closes it. */
async function answerOnSocket(socket: Duplex, response: Response): Promise<void> {
  if (socket.destroyed) return;
  const body = new Uint8Array(await response.arrayBuffer());
  let head = `HTTP/1.1 ${response.status} ${http.STATUS_CODES[response.status] ?? ""}\r\n`;
  response.headers.forEach((value, name) => {
    if (name !== "content-length" && name !== "connection") head += `${name}: ${value}\r\n`;
  });
  head += `content-length: ${body.byteLength}\r\nconnection: close\r\n\r\n`;
  socket.end(Buffer.concat([Buffer.from(head, "latin1"), body]), () => socket.destroy());
}
