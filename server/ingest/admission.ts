import type { Writer } from "../auth/mod.ts";
import { problem } from "../http/errors.ts";
import { TokenBucket } from "../http/token_bucket.ts";
import { discardBody } from "./body.ts";
import { authenticateWriter, unauthorizedWriter } from "./writer_auth.ts";
import type { WriterKeys } from "./writer_auth.ts";

/** The media types ingest reads; `application/octet-stream` is a FlatBuffers batch too. */
export type IngestMedia = "json" | "flatbuffers";

/**
 * The first steps of POST /api/ingest, before any body is read: who writes
 * (an API key when any exists: 401 without a valid one), at what rate (a
 * token bucket per key: 429 with Retry-After), and in which media type (415
 * for others). A refused request's body is discarded, not read.
 */
export class Admission {
  readonly #keys?: WriterKeys;
  readonly #rate: { capacity: number; perSecond: number };
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #now: () => number;

  constructor(
    keys: WriterKeys | undefined,
    options: { rate?: { capacity: number; perSecond: number }; now?: () => number } = {},
  ) {
    this.#keys = keys;
    this.#rate = options.rate ?? { capacity: 50, perSecond: 20 };
    this.#now = options.now ?? Date.now;
  }

  /** The writer (null for open ingest) and media type, or the refusal to answer with. */
  async admit(request: Request): Promise<{ writer: Writer | null; media: IngestMedia } | Response> {
    const writer = await authenticateWriter(request, this.#keys);
    if (writer === false) return refuse(request, unauthorizedWriter("ingest"));
    if (writer && !this.#bucket(writer.id).take(this.#now())) {
      return refuse(
        request,
        problem(429, `Cannot ingest: key ${writer.id} is over its request rate`, {
          "retry-after": "1",
        }),
      );
    }
    const media = mediaOf(request);
    if (media === null) {
      return refuse(
        request,
        problem(415, "Content-Type must be application/json or application/x-flatbuffers"),
      );
    }
    return { writer, media };
  }

  #bucket(id: string): TokenBucket {
    let bucket = this.#buckets.get(id);
    if (!bucket) this.#buckets.set(id, bucket = new TokenBucket(this.#rate, this.#now()));
    return bucket;
  }
}

/** The ingest media type of a request's Content-Type (parameters ignored), or null. */
export function mediaOf(request: Request): IngestMedia | null {
  const type = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type === "application/json") return "json";
  if (type === "application/x-flatbuffers" || type === "application/octet-stream") {
    return "flatbuffers";
  }
  return null;
}

async function refuse(request: Request, response: Response): Promise<Response> {
  await discardBody(request);
  return response;
}
