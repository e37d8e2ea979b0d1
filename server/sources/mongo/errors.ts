// Classifies what the driver throws at the change-stream source. Resumable
// errors (a primary stepping down, a network blip) never reach this: the
// driver resumes from its cached token itself and rethrows only when that
// resume fails, which is then an outage.

/** What the source does about a failure. */
export type MongoFailure =
  /** The resume point is gone: rebuild the state from the collection. */
  | "history-lost"
  /** Change streams cannot work here (a standalone server): stop. */
  | "standalone"
  /** Unreachable or failing for now: keep the state, back off, reopen from the token. */
  | "outage";

/** Error codes after which the resume token cannot be used again. */
const HISTORY_LOST_CODES = new Set([
  286, // ChangeStreamHistoryLost
  280, // ChangeStreamFatalError
  260, // InvalidResumeToken
  50811, // malformed or foreign resume token (a restore into another cluster)
]);

interface DriverError {
  code?: unknown;
  codeName?: unknown;
  message?: unknown;
  hasErrorLabel?: (label: string) => boolean;
}

export function classifyMongoError(error: unknown): MongoFailure {
  const e = (typeof error === "object" && error !== null ? error : {}) as DriverError;
  const message = typeof e.message === "string" ? e.message : String(error);
  if (e.code === 40573 || /only supported on replica sets/i.test(message)) return "standalone";
  if (error instanceof ChangeStreamInvalidated) return "history-lost";
  if (
    (typeof e.code === "number" && HISTORY_LOST_CODES.has(e.code)) ||
    e.codeName === "ChangeStreamHistoryLost" ||
    e.hasErrorLabel?.("NonResumableChangeStreamError") === true
  ) return "history-lost";
  return "outage";
}

/** The watched collection was dropped or renamed: the stream ended for good. */
export class ChangeStreamInvalidated extends Error {
  constructor(operation: string) {
    super(`The change stream was invalidated (${operation}); rebuilding from the collection`);
    this.name = "ChangeStreamInvalidated";
  }
}

/** The one-line explanation for a standalone server. */
export const STANDALONE_HINT =
  "MongoDB change streams need a replica set, and this server is a standalone: start mongod " +
  "with --replSet rs0 and run rs.initiate() once in mongosh (or use an Atlas cluster), then " +
  "start Pulseboard again.";
