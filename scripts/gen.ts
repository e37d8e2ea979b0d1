// Regenerates protocol/schema_generated.ts from schema.fbs with Debian's flatc.
// `--check` compares instead of writing and exits 1 when the committed file is stale.
import { generateSchemaCode } from "./flatc.ts";

const target = new URL("../protocol/schema_generated.ts", import.meta.url);
const generated = await generateSchemaCode();
if (Deno.args.includes("--check")) {
  const committed = await Deno.readTextFile(target);
  if (committed !== generated) {
    console.error("protocol/schema_generated.ts is stale: run `deno task gen`");
    Deno.exit(1);
  }
  console.log("protocol/schema_generated.ts is up to date");
} else {
  await Deno.writeTextFile(target, generated);
  console.log("wrote protocol/schema_generated.ts");
}
