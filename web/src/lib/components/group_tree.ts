import type { AttentionName } from "@pulseboard/protocol";

/** Per state that needs attention, the sensors in it. */
export type AttentionCounts = Partial<Record<AttentionName, number>>;

/** A group as GET /api/groups lists it. */
export interface GroupListing {
  group: string;
  sensors: number;
  attention?: AttentionCounts;
}

/**
 * Trees up to this many nodes are shown whole (a picker of buttons, a select);
 * larger ones (a fleet of many sites) open collapsed and are searched.
 */
export const SMALL_TREE = 200;

/** One node of the group tree: a path prefix and the sensors under it. */
export interface GroupNode {
  path: string;
  name: string;
  depth: number;
  sensors: number;
  /** Of those, how many need attention, by state. */
  attention: AttentionCounts;
  /** Groups one level below it. */
  children: number;
}

/** Adds `from`'s counts into `into`. */
export function addCounts(
  into: AttentionCounts,
  from: AttentionCounts | undefined,
): AttentionCounts {
  for (const [name, n] of Object.entries(from ?? {})) {
    const key = name as AttentionName;
    into[key] = (into[key] ?? 0) + (n ?? 0);
  }
  return into;
}

const collator = new Intl.Collator("en", { numeric: true });

/**
 * Builds the tree of group prefixes from the server's group list, in
 * depth-first order, each node counting the sensors of all groups under it.
 * Each path is split once (a fleet may have tens of thousands of groups).
 */
export function groupTree(groups: readonly GroupListing[]): GroupNode[] {
  const byPath = new Map<string, GroupNode & { parts: string[] }>();
  for (const { group, sensors, attention: calling } of groups) {
    const parts = group.split("/");
    let path = "";
    for (let i = 0; i < parts.length; i++) {
      path = i === 0 ? parts[0] : `${path}/${parts[i]}`;
      let node = byPath.get(path);
      if (!node) {
        node = {
          path,
          name: parts[i],
          depth: i,
          sensors: 0,
          attention: {},
          children: 0,
          parts: parts.slice(0, i + 1),
        };
        byPath.set(path, node);
        if (i > 0) byPath.get(node.parts.slice(0, i).join("/"))!.children++;
      }
      node.sensors += sensors;
      addCounts(node.attention, calling);
    }
  }
  return [...byPath.values()]
    .sort((a, b) => {
      // Depth-first: compare segment by segment.
      const x = a.parts, y = b.parts;
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        // "site01" and "site1" collate equal: their code points break the tie (one order, DFS kept).
        const c = collator.compare(x[i], y[i]) || (x[i] < y[i] ? -1 : x[i] > y[i] ? 1 : 0);
        if (c !== 0) return c;
      }
      return x.length - y.length;
    })
    .map(({ parts: _, ...node }) => node);
}

/**
 * The nodes a picker shows, in tree order: with `query`, those whose path
 * holds it (case-insensitive); without, those whose every ancestor is
 * `expanded`. At most `limit`; `more` is how many were left out.
 */
export function shownNodes(
  nodes: readonly GroupNode[],
  options: { expanded: ReadonlySet<string>; query?: string; limit: number },
): { nodes: GroupNode[]; more: number } {
  const query = options.query?.trim().toLowerCase() ?? "";
  const out: GroupNode[] = [];
  let more = 0;
  // The depth below which nodes are hidden: the first collapsed ancestor's.
  let hiddenBelow = Infinity;
  for (const node of nodes) {
    let shown: boolean;
    if (query) shown = node.path.toLowerCase().includes(query);
    else {
      if (node.depth <= hiddenBelow) hiddenBelow = Infinity;
      shown = node.depth <= hiddenBelow;
      if (shown && node.children > 0 && !options.expanded.has(node.path)) {
        hiddenBelow = node.depth;
      }
    }
    if (!shown) continue;
    if (out.length < options.limit) out.push(node);
    else more++;
  }
  return { nodes: out, more };
}

/** The paths of `group`'s ancestors ("a/b/c" → "a", "a/b"), to show it expanded. */
export function ancestorsOf(group: string): string[] {
  const parts = group.split("/");
  return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join("/"));
}
