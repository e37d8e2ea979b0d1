import type { AttentionName } from "@pulseboard/protocol";

/** Per state that needs attention, the sensors in it. */
export type AttentionCounts = Partial<Record<AttentionName, number>>;

/** A group as GET /api/groups lists it. */
export interface GroupListing {
  group: string;
  sensors: number;
  attention?: AttentionCounts;
}

/** One node of the group tree: a path prefix and the sensors under it. */
export interface GroupNode {
  path: string;
  name: string;
  depth: number;
  sensors: number;
  /** Of those, how many need attention, by state. */
  attention: AttentionCounts;
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

/**
 * Builds the tree of group prefixes from the server's group list, in
 * depth-first order, each node counting the sensors of all groups under it.
 */
export function groupTree(groups: readonly GroupListing[]): GroupNode[] {
  const counts = new Map<string, number>();
  const attention = new Map<string, AttentionCounts>();
  for (const { group, sensors, attention: calling } of groups) {
    const parts = group.split("/");
    for (let i = 1; i <= parts.length; i++) {
      const path = parts.slice(0, i).join("/");
      counts.set(path, (counts.get(path) ?? 0) + sensors);
      attention.set(path, addCounts(attention.get(path) ?? {}, calling));
    }
  }
  const collator = new Intl.Collator("en", { numeric: true });
  return [...counts.keys()]
    .sort((a, b) => {
      // Depth-first: compare segment by segment.
      const x = a.split("/"), y = b.split("/");
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        const c = collator.compare(x[i], y[i]);
        if (c !== 0) return c;
      }
      return x.length - y.length;
    })
    .map((path) => {
      const parts = path.split("/");
      return {
        path,
        name: parts[parts.length - 1],
        depth: parts.length - 1,
        sensors: counts.get(path)!,
        attention: attention.get(path) ?? {},
      };
    });
}
