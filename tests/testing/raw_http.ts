// Raw HTTP/1.1 over TCP for tests that must send what fetch will not: a
// forged Host header, a malformed chunked body, an upload cut off mid-body.

export interface RawResponse {
  status: number;
  headers: Headers;
  body: string;
}

/** Opens a TCP connection to the server of `url`. */
export function connect(url: URL | string): Promise<Deno.TcpConn> {
  const { hostname, port } = new URL(url);
  return Deno.connect({ hostname: hostname.replace(/^\[|\]$/g, ""), port: Number(port) });
}

/** Writes text as bytes. */
export async function send(conn: Deno.Conn, text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

/** Reads until the connection yields `marker` (in the text read so far); returns that text. */
export async function readUntil(conn: Deno.Conn, marker: string): Promise<string> {
  const buffer = new Uint8Array(4096);
  let text = "";
  while (!text.includes(marker)) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error(`connection ended before ${JSON.stringify(marker)}: ${text}`);
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
  return text;
}

/**
 * Reads one response: its head, then a body of its Content-Length, or up to
 * the end of the connection (the request must ask for `Connection: close`).
 * A 101 has no body: the connection is then the WebSocket's.
 */
export async function readResponse(conn: Deno.Conn): Promise<RawResponse> {
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  const buffer = new Uint8Array(16_384);
  const received = () => {
    const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, at);
      at += chunk.length;
    }
    return bytes;
  };
  try {
    while (true) {
      const bytes = received();
      const head = new TextDecoder("latin1").decode(bytes);
      const end = head.indexOf("\r\n\r\n");
      if (end >= 0) {
        if (/^HTTP\/1\.1 101/.test(head)) break;
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(head.slice(0, end));
        if (length && bytes.length >= end + 4 + Number(length[1])) break;
      }
      const n = await conn.read(buffer);
      if (n === null) break;
      chunks.push(buffer.slice(0, n));
    }
  } catch (error) {
    // A reset after the whole response arrived still leaves a response to parse.
    if (chunks.length === 0) throw error;
  }
  return parseResponse(received());
}

/** Sends a whole request (Connection: close is added) and reads the response. */
export async function rawRequest(
  url: URL | string,
  request: { method?: string; path: string; headers: Record<string, string>; body?: string },
): Promise<RawResponse> {
  const conn = await connect(url);
  try {
    const lines = [`${request.method ?? "GET"} ${request.path} HTTP/1.1`];
    for (const [name, value] of Object.entries(request.headers)) lines.push(`${name}: ${value}`);
    if (request.body !== undefined) {
      lines.push(`content-length: ${new TextEncoder().encode(request.body).length}`);
    }
    lines.push("connection: close");
    await send(conn, lines.join("\r\n") + "\r\n\r\n" + (request.body ?? ""));
    return await readResponse(conn);
  } finally {
    try {
      conn.close();
    } catch { /* closed by the server */ }
  }
}

function parseResponse(bytes: Uint8Array): RawResponse {
  const head = new TextDecoder("latin1").decode(bytes);
  const end = head.indexOf("\r\n\r\n"); // latin1: one character per byte
  if (end < 0) throw new Error(`no complete response head: ${JSON.stringify(head.slice(0, 200))}`);
  const [statusLine, ...headerLines] = head.slice(0, end).split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  const headers = new Headers();
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  let body = bytes.subarray(end + 4);
  if (headers.get("transfer-encoding")?.toLowerCase() === "chunked") body = unchunk(body);
  return { status, headers, body: new TextDecoder().decode(body) };
}

function unchunk(bytes: Uint8Array): Uint8Array {
  const text = new TextDecoder("latin1").decode(bytes);
  const parts: Uint8Array[] = [];
  let at = 0;
  while (at < text.length) {
    const lineEnd = text.indexOf("\r\n", at);
    const size = parseInt(text.slice(at, lineEnd), 16);
    if (!(size > 0)) break;
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
