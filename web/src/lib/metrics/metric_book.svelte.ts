// The metric metadata the server serves (GET /api/metrics), shared by every
// component that shows a number. Loaded once at start; until then, numbers
// fall back to two decimals without units.
import type { MetricsMeta } from "@pulseboard/protocol";
import type { ApiClient } from "../api/mod.ts";

export const metricBook: { meta: MetricsMeta; loaded: boolean } = $state({
  meta: {},
  loaded: false,
});

/** Fetches the metadata, retrying every few seconds until it comes (e.g. after a token). */
export async function loadMetricMeta(api: ApiClient, o: { signal?: AbortSignal } = {}) {
  while (!o.signal?.aborted) {
    try {
      metricBook.meta = await api.metricMeta(o.signal);
      metricBook.loaded = true;
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 3_000));
    }
  }
}
