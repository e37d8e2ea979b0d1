import { groupAllowed } from "../auth/mod.ts";
import type { Writer } from "../auth/mod.ts";
import { DEFAULT_GROUP, refuseFurther } from "./readings/mod.ts";
import type { ParsedReadings } from "./readings/mod.ts";

/** Refuses the readings whose group the writer's key may not write, by their index in the batch. */
export function withinScope(parsed: ParsedReadings, writer: Writer): ParsedReadings {
  const { block } = parsed;
  if (writer.groups.includes("*")) return parsed;
  const groupOf = (row: number) => block.strings[block.group[row]] || DEFAULT_GROUP;
  return refuseFurther(
    parsed,
    (row) =>
      groupAllowed(writer.groups, groupOf(row))
        ? null
        : `group "${groupOf(row)}" is not allowed for this key`,
  );
}
