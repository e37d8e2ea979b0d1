/** Renders rows as a Markdown table with right-aligned cells. */
export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    "| " + cells.map((c, i) => c.padStart(widths[i])).join(" | ") + " |";
  return [
    line(header),
    "| " + widths.map((w) => "-".repeat(w - 1) + ":").join(" | ") + " |",
    ...rows.map(line),
  ].join("\n");
}
