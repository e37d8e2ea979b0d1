import { errorResponse, jsonResponse } from "../http/errors.ts";
import { singleValuedQuery } from "../http/query_params.ts";
import { checkGroup, checkMetricName, checkSensorId } from "../ingest/readings/validate.ts";
import { DEFAULT_READING_LIMITS } from "../ingest/readings/limits.ts";
import { covers } from "../../actors/hub/topic.ts";
import type { SensorQuery, SensorSummary } from "../../actors/hub/feed_queries.ts";
import { parseHistoryRequest } from "../history/history_query.ts";
import type { HistoryAnswer } from "../history/history_service.ts";
import type { HistoryRequest } from "../history/history_query.ts";

/** What the read API needs from the rest of the server. */
export interface QueryDeps {
  /**
   * The viewer's group prefixes (null: no limit; `*` among them is every
   * group); throws PermissionDenied without a valid token.
   */
  scope(request: Request): Promise<string[] | null>;
  sensors(query: SensorQuery): Promise<{ sensors: SensorSummary[]; more: boolean }>;
  aggregates(
    group: string,
    size: number,
    metric: string | null,
    scope: readonly string[] | null,
  ): Promise<unknown[] | null>;
  history(request: HistoryRequest): Promise<HistoryAnswer>;
  windowSizesMs: readonly number[];
  /** Readings each metric's avg, min and max cover (`--window`). */
  countWindow: number;
  now(): number;
}

const MAX_LIMIT = 1_000;

/** GET /api/sensors?group=&q=&limit=&cursor= */
export function sensorsRoute(deps: QueryDeps) {
  return async (request: Request): Promise<Response> => {
    try {
      const scope = readScope(await deps.scope(request));
      const params = singleValuedQuery(request.url);
      const group = groupParam(params);
      const q = params.get("q");
      if (q !== null && q.length > DEFAULT_READING_LIMITS.maxSensorIdLength) {
        throw new RangeError(
          `q longer than ${DEFAULT_READING_LIMITS.maxSensorIdLength} characters`,
        );
      }
      const limitRaw = params.get("limit");
      const limit = limitRaw === null || limitRaw === "" ? 100 : Number(limitRaw);
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
        throw new RangeError(`limit must be an integer from 1 to ${MAX_LIMIT}, got "${limitRaw}"`);
      }
      const cursor = params.get("cursor");
      const after = cursor === null || cursor === "" ? null : decodeCursor(cursor);
      const page = await deps.sensors({ group, q: q || null, limit, after, scope });
      const last = page.sensors[page.sensors.length - 1];
      return jsonResponse({
        // Said with every page: avg, min and max cover each metric's last
        // `countWindow` readings in arrival order.
        countWindow: deps.countWindow,
        sensors: page.sensors,
        nextCursor: page.more && last ? encodeCursor(last.id) : null,
      });
    } catch (error) {
      return errorResponse(error);
    }
  };
}

/** GET /api/sensors/:id/history?metric=&from=&to=&maxPoints= */
export function historyRoute(deps: QueryDeps) {
  return async (request: Request, id: string): Promise<Response> => {
    try {
      const scope = readScope(await deps.scope(request));
      const parsed = parseHistoryRequest(id, singleValuedQuery(request.url), deps.now());
      if (typeof parsed === "string") throw new RangeError(parsed);
      // Only sensors the fleet has (and the viewer may see: unknown and forbidden look the same).
      if (await findSensor(deps, id, scope)) return jsonResponse(await deps.history(parsed));
      // Unscoped, history the store keeps is served though the hub does not hold the sensor
      // (deleted from MongoDB, or not read again yet after a restart).
      const kept = scope === null ? await deps.history(parsed) : null;
      if (kept !== null && kept.points.length > 0) return jsonResponse(kept);
      throw new Deno.errors.NotFound(
        scope === null
          ? `No sensor "${id}" is known, and none of its readings are kept in that range`
          : `No sensor "${id}" among those you may read`,
      );
    } catch (error) {
      return errorResponse(error);
    }
  };
}

/** GET /api/aggregates?group=&window=&metric= */
export function aggregatesRoute(deps: QueryDeps) {
  return async (request: Request): Promise<Response> => {
    try {
      const scope = readScope(await deps.scope(request));
      const params = singleValuedQuery(request.url);
      const group = groupParam(params) ?? "";
      // The root group ("") is everything the viewer may read.
      if (group !== "" && scope !== null && !scope.some((p) => covers(p, group))) {
        throw new Deno.errors.NotFound(
          `Group "${group || "(all)"}" is outside your token's groups`,
        );
      }
      if (deps.windowSizesMs.length === 0) {
        throw new Deno.errors.NotFound(
          "Aggregates need windows; this server runs with --windows none",
        );
      }
      const window = params.get("window") ?? label(deps.windowSizesMs[0]);
      const size = deps.windowSizesMs.findIndex((ms) => label(ms) === window);
      if (size < 0) {
        throw new RangeError(
          `window must be one of ${deps.windowSizesMs.map(label).join(", ")}, got "${
            window.slice(0, 20)
          }"`,
        );
      }
      const metric = params.get("metric") || null;
      const metricProblem = metric === null
        ? null
        : checkMetricName(metric, DEFAULT_READING_LIMITS);
      if (metricProblem) throw new RangeError(metricProblem);
      const metrics = await deps.aggregates(group, size, metric, scope);
      if (metrics === null) throw new Deno.errors.NotFound(`No metric "${metric}" is known`);
      return jsonResponse({
        group,
        window,
        windowMs: deps.windowSizesMs[size],
        asOfMs: deps.now(),
        metrics,
      });
    } catch (error) {
      return errorResponse(error);
    }
  };
}

/** The viewer's scope as the queries take it: null for every group (no tokens, or `*`). */
function readScope(scope: string[] | null): string[] | null {
  return scope === null || scope.includes("*") ? null : scope;
}

async function findSensor(
  deps: QueryDeps,
  id: string,
  scope: readonly string[] | null,
): Promise<boolean> {
  const page = await deps.sensors({ group: null, q: null, limit: 1, after: null, scope, id });
  return page.sensors.length === 1;
}

function groupParam(params: URLSearchParams): string | null {
  const group = params.get("group");
  if (group === null || group === "" || group === "*") return null;
  const reason = checkGroup(group, DEFAULT_READING_LIMITS);
  if (reason) throw new RangeError(reason);
  return group;
}

/** Window sizes as the API names them: 1s, 10s, 1m, 250ms. */
export function label(sizeMs: number): string {
  if (sizeMs % 60_000 === 0) return `${sizeMs / 60_000}m`;
  if (sizeMs % 1_000 === 0) return `${sizeMs / 1_000}s`;
  return `${sizeMs}ms`;
}

function encodeCursor(id: string): string {
  const bytes = new TextEncoder().encode(id);
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replaceAll("=", "");
}

function decodeCursor(cursor: string): string {
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(cursor)) {
    throw new RangeError("cursor is not one this API gave");
  }
  try {
    const binary = atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
    const id = new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(binary, (c) => c.charCodeAt(0)),
    );
    if (checkSensorId(id, DEFAULT_READING_LIMITS)) throw new Error("bad id");
    return id;
  } catch {
    throw new RangeError("cursor is not one this API gave");
  }
}
