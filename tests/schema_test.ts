import { assertEquals } from "./testing/assert.ts";
import { generateSchemaCode } from "../scripts/flatc.ts";

Deno.test("committed protocol/schema_generated.ts is what flatc makes of schema.fbs", async () => {
  const committed = await Deno.readTextFile(
    new URL("../protocol/schema_generated.ts", import.meta.url),
  );
  const fresh = await generateSchemaCode();
  assertEquals(
    committed === fresh,
    true,
    "protocol/schema_generated.ts is stale: run `deno task gen`",
  );
});
