/** Severity, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Fields whose names suggest a secret are never written. */
const SECRET = /token|secret|password|authorization|api[-_]?key|cookie/i;

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go. Default: standard error. */
  write?: (line: string) => void;
  now?: () => Date;
}

/**
 * Structured logs: one JSON object per line with `time`, `level`, `msg` and
 * the given fields. Errors become `{ name, message, stack }`; fields named
 * like secrets are replaced by "[redacted]".
 */
export class Logger {
  #level: number;
  readonly #write: (line: string) => void;
  readonly #now: () => Date;

  constructor(options: LoggerOptions = {}) {
    this.#level = RANK[options.level ?? "info"];
    this.#write = options.write ??
      ((line) => Deno.stderr.writeSync(new TextEncoder().encode(line + "\n")));
    this.#now = options.now ?? (() => new Date());
  }

  setLevel(level: LogLevel): void {
    this.#level = RANK[level];
  }

  debug(msg: string, fields: Record<string, unknown> = {}): void {
    this.#log("debug", msg, fields);
  }

  info(msg: string, fields: Record<string, unknown> = {}): void {
    this.#log("info", msg, fields);
  }

  warn(msg: string, fields: Record<string, unknown> = {}): void {
    this.#log("warn", msg, fields);
  }

  error(msg: string, fields: Record<string, unknown> = {}): void {
    this.#log("error", msg, fields);
  }

  #log(level: LogLevel, msg: string, fields: Record<string, unknown>): void {
    if (RANK[level] < this.#level) return;
    const entry: Record<string, unknown> = { time: this.#now().toISOString(), level, msg };
    for (const [key, value] of Object.entries(fields)) {
      entry[key] = SECRET.test(key)
        ? "[redacted]"
        : value instanceof Error
        ? { name: value.name, message: value.message, stack: value.stack }
        : value;
    }
    this.#write(JSON.stringify(entry));
  }
}

/** The process-wide logger; `main.ts` sets its level. */
export const logger = new Logger();
