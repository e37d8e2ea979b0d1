import { groupAllowed } from "../auth/mod.ts";
import type { Writer } from "../auth/mod.ts";
import { DEFAULT_GROUP, keepRows } from "./readings/mod.ts";
import type { ParsedReadings } from "./readings/mod.ts";

/**
 * Refuses the readings whose group the writer's key may not write, by their
 * index in the batch: the block's rows are the batch's readings minus those
 * refused already, so a row's batch index skips the earlier refusals.
 */
export function withinScope(parsed: ParsedReadings, writer: Writer): ParsedReadings {
  const { block } = parsed;
  if (writer.groups.includes("*")) return parsed;
  const groupOf = (row: number) => block.strings[block.group[row]] || DEFAULT_GROUP;
  const scoped = keepRows(
    block,
    (row) =>
      groupAllowed(writer.groups, groupOf(row))
        ? null
        : `group "${groupOf(row)}" is not allowed for this key`,
  );
  if (scoped.refused.length === 0) return parsed;
  const batchIndex: number[] = [];
  const earlier = new Set(parsed.refused.map((r) => r.index));
  for (let i = 0; batchIndex.length < block.length; i++) if (!earlier.has(i)) batchIndex.push(i);
  const refused = [
    ...parsed.refused,
    ...scoped.refused.map((r) => ({ index: batchIndex[r.index], reason: r.reason })),
  ]
    .sort((a, b) => a.index - b.index);
  return { block: scoped.block, refused };
}
