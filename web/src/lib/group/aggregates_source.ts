// Where the group view gets its aggregates from. Today: polling
// GET /api/aggregates about once a second while the page is visible. The
// server will also push them on the feed; swapping this one function for a
// push-fed source leaves the view unchanged.
import type { AggregatesQuery, ApiClient, GroupAggregates } from "../api/mod.ts";

export interface AggregatesListener {
  data: (aggregates: GroupAggregates) => void;
  error: (error: unknown) => void;
}

/** Starts delivering aggregates for `query`; returns a function that stops it. */
export type AggregatesSource = (query: AggregatesQuery, listener: AggregatesListener) => () => void;

export interface PollingOptions {
  /** Time from one request's start to the next; default 1000 ms. */
  intervalMs?: number;
  /** Polls are skipped while this says no; default: the document is visible. */
  visible?: () => boolean;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (handle: unknown) => void;
  now?: () => number;
}

/** True unless a browser document says the page is hidden (a background tab). */
function documentVisible(): boolean {
  const doc = (globalThis as { document?: { visibilityState?: string } }).document;
  return doc?.visibilityState !== "hidden";
}

export function pollingAggregates(
  client: Pick<ApiClient, "aggregates">,
  options: PollingOptions = {},
): AggregatesSource {
  const intervalMs = options.intervalMs ?? 1000;
  const visible = options.visible ?? documentVisible;
  const schedule = options.setTimeout ?? ((fn, ms) => setTimeout(fn, ms));
  const cancel = options.clearTimeout ??
    ((h) => clearTimeout(h as ReturnType<typeof setTimeout>));
  const now = options.now ?? (() => performance.now());
  return (query, listener) => {
    let stopped = false;
    let timer: unknown;
    let controller: AbortController | null = null;
    const tick = async () => {
      const started = now();
      if (visible()) {
        controller = new AbortController();
        try {
          const aggregates = await client.aggregates(query, controller.signal);
          if (!stopped) listener.data(aggregates);
        } catch (error) {
          if (!stopped) listener.error(error);
        }
        controller = null;
      }
      // One request at a time; a slow answer delays the next, never stacks them.
      if (!stopped) timer = schedule(tick, Math.max(0, intervalMs - (now() - started)));
    };
    tick();
    return () => {
      stopped = true;
      cancel(timer);
      controller?.abort();
    };
  };
}
