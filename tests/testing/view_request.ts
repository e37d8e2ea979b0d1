import type { ViewRequest } from "../../protocol/client_messages.ts";

/** A ViewSubscribe request: sensor id order, no filter, kept order, unless `o` says otherwise. */
export function viewRequest(o: Partial<ViewRequest> & { limit: number }): ViewRequest {
  return {
    subscriptions: [],
    sort: { key: "id", metric: null, field: "last", direction: "asc" },
    filter: { idSubstring: "", groupPrefix: null, status: null },
    offset: 0,
    order: "keep",
    resume: null,
    hiddenMetrics: [],
    ...o,
  };
}

/** A one-row window of the views filtered by `idSubstring` (its first block: 50 rows). */
export function filteredView(idSubstring: string): ViewRequest {
  return viewRequest({ limit: 1, filter: { idSubstring, groupPrefix: null, status: null } });
}
