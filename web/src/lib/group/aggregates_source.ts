// Where the group view gets its aggregates from: pushed on the feed (the
// server computes them once per tick for the subscribed group), or by
// polling GET /api/aggregates. Both give the view the same shape.
import type { AggregatesQuery, AggregateWindow, ApiClient, GroupAggregates } from "../api/mod.ts";
import type { AggregateBook } from "../feed/aggregate_book.ts";

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

const WINDOW_MS: Record<AggregateWindow, number> = { "1s": 1_000, "10s": 10_000, "1m": 60_000 };

/**
 * Aggregates the feed pushes for the subscribed group: the view updates
 * whenever a window of that size ends or is revised, with no requests.
 */
export function pushedAggregates(book: AggregateBook): AggregatesSource {
  return (query, listener) =>
    book.watch(query.group, WINDOW_MS[query.window], (aggregates, windowMs, asOfMs) => {
      const metrics = aggregates
        .map((a) => ({
          metric: book.metricName(a.metric) ?? `metric ${a.metric}`,
          windowStartMs: a.startMs,
          sensors: a.sensors,
          count: a.count,
          sum: a.sum,
          avg: a.count > 0 ? a.sum / a.count : null,
          min: a.count > 0 ? a.min : null,
          max: a.count > 0 ? a.max : null,
        }))
        .filter((m) => !query.metric || m.metric === query.metric)
        .sort((a, b) => (a.metric < b.metric ? -1 : a.metric > b.metric ? 1 : 0));
      listener.data({
        group: query.group,
        window: query.window,
        windowMs,
        asOfMs,
        metrics,
      });
    });
}
