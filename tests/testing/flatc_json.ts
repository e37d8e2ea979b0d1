// Decodes a frame with Debian's flatc (`--json`), as any FlatBuffers tool
// would read it: the wire contract is schema.fbs, not our TypeScript.

/**
 * The frame's Envelope as flatc prints it in strict JSON. `schemaText`: read
 * it with this schema instead of schema.fbs (an older one, as an old reader).
 */
export async function flatcJson(
  bytes: Uint8Array,
  schemaText?: string,
): Promise<Record<string, unknown>> {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-flatc-" });
  try {
    await Deno.writeFile(`${dir}/frame.bin`, bytes);
    let schema = new URL("../../schema.fbs", import.meta.url).pathname;
    if (schemaText !== undefined) {
      schema = `${dir}/schema.fbs`;
      await Deno.writeTextFile(schema, schemaText);
    }
    const { success, stderr } = await new Deno.Command("flatc", {
      args: [
        "--json",
        "--strict-json",
        "--raw-binary",
        "-o",
        dir,
        schema,
        "--",
        `${dir}/frame.bin`,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!success) throw new Error(`flatc failed: ${new TextDecoder().decode(stderr)}`);
    return JSON.parse(await Deno.readTextFile(`${dir}/frame.json`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
