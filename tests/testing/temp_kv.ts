// A real Deno KV file in a fresh temp dir for one test, closed and removed after.
export async function withTempKv(
  run: (kv: Deno.Kv, path: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pulseboard-kv-" });
  const path = `${dir}/store.kv`;
  const kv = await Deno.openKv(path);
  try {
    await run(kv, path);
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
}
