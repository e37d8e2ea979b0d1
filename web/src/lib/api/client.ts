// The dashboard's HTTP API client: one place that knows paths, the bearer
// token and the error shape. Every response is validated before use.
import { ApiError } from "./api_error.ts";
import { aggregatesPath, parseAggregates } from "./aggregates.ts";
import type { AggregatesQuery, GroupAggregates } from "./aggregates.ts";
import { historyPath, parseHistory } from "./history.ts";
import type { History, HistoryQuery } from "./history.ts";
import { parseSensorPage, sensorsPath } from "./sensors.ts";
import type { SensorPage, SensorQuery } from "./sensors.ts";
import { METRICS_PATH, parseMetricMeta } from "./metric_meta.ts";
import type { MetricsMeta } from "@pulseboard/protocol";

export interface ApiClientOptions {
  /** Prefix for paths; default "" (same origin). */
  baseUrl?: string;
  /** The dashboard JWT the feed uses, read at each call; null when none. */
  token?: () => string | null;
  fetch?: typeof fetch;
}

export class ApiClient {
  readonly #baseUrl: string;
  readonly #token: () => string | null;
  readonly #fetch: typeof fetch;

  constructor(options: ApiClientOptions = {}) {
    this.#baseUrl = options.baseUrl ?? "";
    this.#token = options.token ?? (() => null);
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  history(sensorId: string, query: HistoryQuery, signal?: AbortSignal): Promise<History> {
    return this.#get(historyPath(sensorId, query), parseHistory, signal);
  }

  sensors(query: SensorQuery = {}, signal?: AbortSignal): Promise<SensorPage> {
    return this.#get(sensorsPath(query), parseSensorPage, signal);
  }

  aggregates(query: AggregatesQuery, signal?: AbortSignal): Promise<GroupAggregates> {
    return this.#get(aggregatesPath(query), parseAggregates, signal);
  }

  metricMeta(signal?: AbortSignal): Promise<MetricsMeta> {
    return this.#get(METRICS_PATH, parseMetricMeta, signal);
  }

  async #get<T>(path: string, parse: (json: unknown) => T, signal?: AbortSignal): Promise<T> {
    const token = this.#token();
    let response: Response;
    try {
      response = await this.#fetch(this.#baseUrl + path, {
        headers: token ? { authorization: `Bearer ${token}`, accept: "application/json" } : {
          accept: "application/json",
        },
        signal,
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new ApiError(0, "network error", (error as Error)?.message ?? String(error));
    }
    const json = await response.json().catch(() => undefined);
    if (!response.ok) throw errorFrom(response, json);
    try {
      return parse(json);
    } catch (error) {
      throw new ApiError(response.status, "invalid response", (error as Error).message);
    }
  }
}

function errorFrom(response: Response, json: unknown): ApiError {
  const body = typeof json === "object" && json !== null ? json as Record<string, unknown> : {};
  const error = typeof body.error === "string" ? body.error : response.statusText || "error";
  const detail = typeof body.detail === "string" ? body.detail : "";
  return new ApiError(response.status, error, detail);
}
