import { refusalKind } from "./readings/mod.ts";
import type { Refusal } from "./readings/mod.ts";

/** Outcomes of requests that carry an idempotency key (a metric label). */
export const IDEMPOTENT_OUTCOMES = [
  "first",
  "replayed",
  "conflict",
  "in_progress",
  "mismatch",
] as const;
export type IdempotentOutcome = typeof IDEMPOTENT_OUTCOMES[number];

/** Counters for /healthz, /metrics and the benchmark. */
export class IngestStats {
  requests = 0;
  accepted = 0;
  refused = 0;
  /** Refused readings by reason kind. */
  refusedBy: Record<string, number> = {};
  /** Whole requests refused, by HTTP status. */
  rejectedRequests: Record<string, number> = {};
  /** Requests with an idempotency key, by outcome. */
  idempotent: Record<IdempotentOutcome, number> = {
    first: 0,
    replayed: 0,
    conflict: 0,
    in_progress: 0,
    mismatch: 0,
  };

  /** Counts a batch's accepted readings and its refusals by kind. */
  counted(accepted: number, refused: readonly Refusal[]): void {
    this.accepted += accepted;
    this.refused += refused.length;
    for (const { reason } of refused) {
      const kind = refusalKind(reason);
      this.refusedBy[kind] = (this.refusedBy[kind] ?? 0) + 1;
    }
  }

  /** Counts a whole request refused with `response`'s status, and passes it on. */
  rejected(response: Response): Response {
    this.rejectedRequests[response.status] = (this.rejectedRequests[response.status] ?? 0) + 1;
    return response;
  }
}
