import type { SubscriptionRequest } from "../../protocol/client_messages.ts";
import { checkGroup, checkSensorId } from "../../protocol/names.ts";

/**
 * What a stream carries: everything, or sensors under group prefixes or named
 * by id; and, for an authenticated viewer, only within the group prefixes its
 * token allows (`scope`, null for no limit).
 */
export type TopicSpec =
  & (
    | { all: true }
    | { all: false; groups: readonly string[]; sensors: ReadonlySet<string> }
  )
  & {
    scope: readonly string[] | null;
    /** Carries every sensor's event-time windows, not only group aggregates. */
    windows: boolean;
  };

/** Checks one subscription's meaning; null when fine, else the reason. */
export function checkSubscription(request: SubscriptionRequest): string | null {
  const kinds = Number(request.all) + Number(request.group !== null) +
    Number(request.sensors.length > 0);
  if (kinds === 0) return `subscription ${request.id} names nothing: set all, group or sensors`;
  if (kinds > 1) return `subscription ${request.id} mixes all, group and sensors: use one`;
  if (request.group !== null) {
    if (request.group === "") return `subscription ${request.id}: group is empty`;
    const reason = checkGroup(request.group);
    if (reason) return `subscription ${request.id}: ${reason}`;
  }
  for (const id of request.sensors) {
    const reason = checkSensorId(id);
    if (reason) return `subscription ${request.id}: ${reason}`;
  }
  return null;
}

/**
 * The one stream for a set of (checked) subscriptions, with a canonical key:
 * sets that select the same sensors by the same rules share a stream, so its
 * frames are encoded once for all their sessions.
 */
export function topicFor(
  subscriptions: Iterable<SubscriptionRequest>,
  scope: readonly string[] | null = null,
  windows = false,
): CanonicalTopic {
  const limit = scope === null || scope.includes("*") ? null : [...new Set(scope)].sort();
  const suffix = (limit === null ? "" : `;scope=${limit.join(",")}`) + (windows ? ";windows" : "");
  const groups = new Set<string>();
  const sensors = new Set<string>();
  for (const s of subscriptions) {
    if (s.all) return canonical("*", suffix, { all: true, scope: limit, windows });
    if (s.group !== null) groups.add(s.group);
    for (const id of s.sensors) sensors.add(id);
  }
  // A prefix covered by a shorter one adds nothing.
  const kept = [...groups].filter((g) =>
    ![...groups].some((other) => other !== g && covers(other, g))
  ).sort();
  const ids = [...sensors].sort();
  return canonical(`groups=${kept.join(",")};sensors=${ids.join(",")}`, suffix, {
    all: false,
    groups: kept,
    sensors: new Set(ids),
    scope: limit,
    windows,
  });
}

/** A topic's key and spec, with their sizes (what limits and stats count). */
export interface CanonicalTopic {
  key: string;
  spec: TopicSpec;
  /** UTF-8 bytes of the whole key. */
  keyBytes: number;
  /** UTF-8 bytes of what the client chose (the key without the scope its token sets). */
  selectionBytes: number;
}

const utf8 = new TextEncoder();

function canonical(selection: string, suffix: string, spec: TopicSpec): CanonicalTopic {
  const selectionBytes = utf8.encode(selection).byteLength;
  return {
    key: selection + suffix,
    spec,
    keyBytes: selectionBytes + utf8.encode(suffix).byteLength,
    selectionBytes,
  };
}

/** Whether group prefix `prefix` covers group path `group`. */
export function covers(prefix: string, group: string): boolean {
  return group === prefix || group.startsWith(prefix + "/");
}

export function matches(spec: TopicSpec, id: string, group: string): boolean {
  if (spec.scope !== null && !spec.scope.some((prefix) => covers(prefix, group))) return false;
  if (spec.all) return true;
  if (spec.sensors.has(id)) return true;
  return spec.groups.some((prefix) => covers(prefix, group));
}

/** Null when a viewer limited to `scope` may ask for this subscription, else why not. */
export function checkScope(
  request: SubscriptionRequest,
  scope: readonly string[] | null,
): string | null {
  if (scope === null || scope.includes("*") || request.group === null) return null;
  return scope.some((prefix) => covers(prefix, request.group!))
    ? null
    : `subscription ${request.id}: group ${request.group} is outside your token's groups`;
}
