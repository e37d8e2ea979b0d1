/** One node of the group tree: a path prefix and the sensors under it. */
export interface GroupNode {
  path: string;
  name: string;
  depth: number;
  sensors: number;
}

/**
 * Builds the tree of group prefixes from the server's group list, in
 * depth-first order, each node counting the sensors of all groups under it.
 */
export function groupTree(groups: readonly { group: string; sensors: number }[]): GroupNode[] {
  const counts = new Map<string, number>();
  for (const { group, sensors } of groups) {
    const parts = group.split("/");
    for (let i = 1; i <= parts.length; i++) {
      const path = parts.slice(0, i).join("/");
      counts.set(path, (counts.get(path) ?? 0) + sensors);
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
      };
    });
}
