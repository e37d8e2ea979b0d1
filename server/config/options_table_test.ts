// The option table is the one source of --help, parsing and the README's
// option tables: drift between them fails here (and so in CI).
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { DEFAULT_CONFIG, OPTIONS, parseConfig, readmeTable, USAGE } from "./options.ts";

/** The rows of the Markdown table between `<!-- options: section -->` markers, as cells. */
async function readmeRows(section: string): Promise<string[][]> {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const start = readme.indexOf(`<!-- options: ${section} -->`);
  const end = readme.indexOf(`<!-- /options: ${section} -->`);
  assert(start >= 0 && end > start, `README.md has the ${section} options markers`);
  return readme.slice(start, end).split("\n")
    .filter((line) => line.startsWith("|") && !/^\|[\s|-]+\|$/.test(line))
    .map((line) =>
      line.slice(1, -1).split(/(?<!\\)\|/).map((cell) => cell.trim().replaceAll("\\|", "|"))
    );
}

for (const section of ["server", "mongo", "mqtt"] as const) {
  Deno.test(`README's ${section} option table is the one the option table makes`, async () => {
    assertEquals(await readmeRows(section), readmeTable(section));
  });
}

Deno.test("every option is parsed into its field, told in --help, and defaults as listed", () => {
  const flags = OPTIONS.map((o) => o.flag);
  assertEquals(new Set(flags).size, flags.length, "flags are distinct");
  assertEquals(new Set(OPTIONS.map((o) => o.key)).size, OPTIONS.length, "one flag per field");
  for (const o of OPTIONS) {
    assert(USAGE.includes(`--${o.flag}`), `--help tells --${o.flag}`);
  }
  const none = () => undefined;
  assertEquals(parseConfig([], none), { ...DEFAULT_CONFIG });
  // A value given to each string option lands in its field.
  const given = parseConfig(
    ["--port", "9", "--tick", "50", "--web", "/srv/web", "--insecure"],
    none,
  );
  assertEquals([given.port, given.tickMs, given.webRoot, given.insecure], [
    9,
    50,
    "/srv/web",
    true,
  ]);
});
