// Runs `flatc --ts --ts-flat-files` on schema.fbs and returns the generated source.

const schema = new URL("../schema.fbs", import.meta.url).pathname;

/** Generates the TypeScript for schema.fbs; throws if flatc is missing. */
export async function generateSchemaCode(): Promise<string> {
  const out = await Deno.makeTempDir({ prefix: "pulseboard-flatc-" });
  try {
    const { success, stderr } = await new Deno.Command("flatc", {
      args: ["--ts", "--ts-flat-files", "-o", out, schema],
      stdout: "null",
      stderr: "piped",
    }).output().catch((error) => {
      throw new Error(
        `Cannot run flatc (apt-get install flatbuffers-compiler): ${error.message}`,
      );
    });
    if (!success) {
      throw new Error(`flatc failed: ${new TextDecoder().decode(stderr)}`);
    }
    return await Deno.readTextFile(`${out}/schema_generated.ts`);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
}
