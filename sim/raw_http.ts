// A kept-alive HTTP/1.1 connection that posts request bytes built once, for
// `sim --replay`: at 400,000 readings/s `fetch` cost the load generator about
// 0.9 µs of CPU per reading (headers, body streams, the client's pool) on the
// same 2 cores as the server it measures. Here a post is one write and a
// small parse of the answer.

/** What the server answered. */
export interface RawAnswer {
  status: number;
  /** Header names in lower case. */
  headers: Map<string, string>;
  text: string;
}

const CRLF_CRLF = [13, 10, 13, 10];
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * A POST request's bytes: the head, padded so the body starts at a multiple
 * of 8 (a typed-array view of a body column stays aligned), then the body.
 * Returns the bytes and where the body starts.
 */
export function buildPost(
  url: URL,
  body: Uint8Array,
  headers: Record<string, string>,
): { bytes: Uint8Array<ArrayBuffer>; bodyAt: number } {
  const lines = [
    `POST ${url.pathname}${url.search} HTTP/1.1`,
    `host: ${url.host}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    `content-length: ${body.byteLength}`,
  ];
  const unpadded = encoder.encode(lines.join("\r\n") + "\r\nx-pad: \r\n\r\n").byteLength;
  const pad = " ".repeat((8 - (unpadded % 8)) % 8);
  const head = encoder.encode(lines.join("\r\n") + `\r\nx-pad: ${pad}\r\n\r\n`);
  const bytes = new Uint8Array(head.byteLength + body.byteLength);
  bytes.set(head);
  bytes.set(body, head.byteLength);
  return { bytes, bodyAt: head.byteLength };
}

/** A post that timed out before any of its bytes were written: the server surely stored nothing. */
export class ConnectTimedOut extends Deno.errors.TimedOut {}

/** How a connection is opened (`Deno.connect`; a test's stand-in). */
export type Connect = (
  options: Deno.ConnectOptions & { signal?: AbortSignal },
) => Promise<Deno.TcpConn>;

/**
 * One TCP connection to `url`'s host, reused request after request (one at
 * a time). A connection that failed or was closed is opened again for the
 * next request; one idle for longer than `maxIdleMs` too (the server closes
 * idle ones, and a request written into a closing connection has an unknown
 * outcome).
 */
export class RawHttpConnection {
  readonly #hostname: string;
  readonly #port: number;
  readonly #maxIdleMs: number;
  readonly #connect: Connect;
  #conn: Deno.TcpConn | null = null;
  #lastUsed = 0;
  #buffer = new Uint8Array(16 * 1024);
  #start = 0;
  #end = 0;

  constructor(url: URL, options: { maxIdleMs?: number; connect?: Connect } = {}) {
    if (url.protocol !== "http:") throw new TypeError(`Cannot post raw to ${url.protocol}`);
    this.#hostname = url.hostname.replace(/^\[|\]$/g, "");
    this.#port = Number(url.port || 80);
    this.#maxIdleMs = options.maxIdleMs ?? 2_000;
    this.#connect = options.connect ?? Deno.connect;
  }

  /**
   * Writes `request` (a whole request, `buildPost`) and reads the answer.
   * Throws `Deno.errors.ConnectionRefused` when nothing listens (nothing was
   * sent), the signal's reason when it was aborted before (nothing sent),
   * `Deno.errors.TimedOut` after `timeoutMs` (`ConnectTimedOut` when it came
   * before anything was written: a connect that hung), and
   * other errors when the connection broke (the outcome is then unknown).
   * Interim 1xx answers are skipped; 204 and 304 have no body; an answer with
   * neither a length nor chunks runs to the close, and ends the connection.
   */
  async post(request: Uint8Array, timeoutMs: number, signal: AbortSignal): Promise<RawAnswer> {
    signal.throwIfAborted();
    if (this.#conn && performance.now() - this.#lastUsed > this.#maxIdleMs) this.close();
    // Armed before the connect, so a connect that hangs (a host that drops
    // the SYN) times out or stops at the abort like the rest of the post.
    const abandon = new AbortController();
    let timedOut = false;
    let sent = false;
    let conn: Deno.TcpConn | null = this.#conn;
    const stop = () => {
      abandon.abort();
      if (conn && this.#conn === conn) this.close();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, timeoutMs);
    signal.addEventListener("abort", stop, { once: true });
    try {
      if (!conn) {
        const opened = await this.#connect({
          hostname: this.#hostname,
          port: this.#port,
          signal: abandon.signal,
        });
        if (abandon.signal.aborted) {
          opened.close();
          throw new Deno.errors.Interrupted("stopped while connecting");
        }
        opened.setNoDelay(true);
        this.#conn = conn = opened;
        this.#start = this.#end = 0;
      }
      sent = true;
      for (let at = 0; at < request.byteLength;) {
        at += await conn.write(request.subarray(at));
      }
      const { answer, keepAlive } = await this.#readAnswer(conn);
      this.#lastUsed = performance.now();
      if (!keepAlive) this.close();
      return answer;
    } catch (error) {
      stop();
      if (timedOut && !sent) {
        throw new ConnectTimedOut(`not connected within ${timeoutMs} ms (nothing sent)`);
      }
      if (timedOut) throw new Deno.errors.TimedOut(`no answer within ${timeoutMs} ms`);
      throw error;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", stop);
    }
  }

  close(): void {
    try {
      this.#conn?.close();
    } catch {
      // already closed
    }
    this.#conn = null;
  }

  async #readAnswer(conn: Deno.TcpConn): Promise<{ answer: RawAnswer; keepAlive: boolean }> {
    let line = "";
    let status = 0;
    let headers = new Map<string, string>();
    // Interim answers (100 Continue, 103 Early Hints) come before the final one.
    do {
      let headEnd = -1;
      while ((headEnd = this.#find(CRLF_CRLF)) < 0) await this.#fill(conn);
      const head = decoder.decode(this.#buffer.subarray(this.#start, headEnd)).split("\r\n");
      this.#start = headEnd + 4;
      line = head[0];
      status = Number(line.split(" ")[1]);
      if (!/^HTTP\/1\.[01] /.test(line) || !(status >= 100 && status < 600)) {
        throw new TypeError(`Not an HTTP answer: ${line.slice(0, 80)}`);
      }
      if (status === 101) throw new TypeError("Cannot follow a switch of protocols");
      headers = new Map<string, string>();
      for (const field of head.slice(1)) {
        const colon = field.indexOf(":");
        if (colon > 0) {
          headers.set(field.slice(0, colon).trim().toLowerCase(), field.slice(colon + 1).trim());
        }
      }
    } while (status < 200);
    const connection = headers.get("connection")?.toLowerCase() ?? "";
    let keepAlive = line.startsWith("HTTP/1.0 ")
      ? connection.includes("keep-alive")
      : !connection.includes("close");
    const parts: Uint8Array[] = [];
    const length = headers.get("content-length");
    if (status === 204 || status === 304) {
      // No body, whatever the headers say (RFC 9112, section 6.3).
    } else if (headers.get("transfer-encoding")?.toLowerCase().includes("chunked")) {
      while (true) {
        let lineEnd = -1;
        while ((lineEnd = this.#find([13, 10])) < 0) await this.#fill(conn);
        const size = parseInt(decoder.decode(this.#buffer.subarray(this.#start, lineEnd)), 16);
        if (!(size >= 0)) throw new TypeError("Bad chunk size in the answer");
        this.#start = lineEnd + 2;
        if (size === 0) {
          // Trailer lines, if any, up to the empty line that ends the answer.
          while (true) {
            while ((lineEnd = this.#find([13, 10])) < 0) await this.#fill(conn);
            const empty = lineEnd === this.#start;
            this.#start = lineEnd + 2;
            if (empty) break;
          }
          break;
        }
        parts.push(await this.#take(conn, size));
        await this.#take(conn, 2); // the chunk's CRLF
      }
    } else if (length !== undefined) {
      const n = /^\d+$/.test(length) ? Number(length) : NaN;
      if (!(n >= 0)) {
        throw new TypeError(`Bad content-length in the answer: ${length.slice(0, 40)}`);
      }
      parts.push(await this.#take(conn, n));
    } else {
      // Neither a length nor chunks: the body runs to the connection's end.
      while (await this.#fill(conn, { endOk: true }));
      parts.push(this.#buffer.slice(this.#start, this.#end));
      this.#start = this.#end;
      keepAlive = false;
    }
    // Decoded whole: a character split across two chunks stays one.
    const body = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let at = 0;
    for (const p of parts) {
      body.set(p, at);
      at += p.byteLength;
    }
    return { answer: { status, headers, text: decoder.decode(body) }, keepAlive };
  }

  /** Index of `needle` in the unread bytes, or -1. */
  #find(needle: number[]): number {
    const b = this.#buffer;
    outer: for (let i = this.#start; i + needle.length <= this.#end; i++) {
      for (let k = 0; k < needle.length; k++) if (b[i + k] !== needle[k]) continue outer;
      return i;
    }
    return -1;
  }

  /** The next `n` unread bytes (a copy), reading more as needed. */
  async #take(conn: Deno.TcpConn, n: number): Promise<Uint8Array> {
    while (this.#end - this.#start < n) await this.#fill(conn);
    const out = this.#buffer.slice(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }

  /** Reads more bytes; at the connection's end throws, or returns false with `endOk`. */
  async #fill(conn: Deno.TcpConn, options: { endOk?: boolean } = {}): Promise<boolean> {
    if (this.#start > 0) {
      this.#buffer.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    if (this.#end === this.#buffer.byteLength) {
      const bigger = new Uint8Array(this.#buffer.byteLength * 2);
      bigger.set(this.#buffer.subarray(0, this.#end));
      this.#buffer = bigger;
    }
    const n = await conn.read(this.#buffer.subarray(this.#end));
    if (n === null) {
      if (options.endOk) return false;
      throw new Deno.errors.UnexpectedEof("the server closed the connection");
    }
    this.#end += n;
    return true;
  }
}
