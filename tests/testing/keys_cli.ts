// The real `deno task keys` CLI (scripts/keys.ts) on a server's Deno KV file,
// as an operator runs it: tests make their API keys with it.
import { assert } from "./assert.ts";

/** Runs the keys CLI with `args`; its output (stdout then stderr). Fails the test if it fails. */
export async function keysCli(args: string[]): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "scripts/keys.ts", ...args],
    cwd: new URL("../..", import.meta.url).pathname,
  }).output();
  const out = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assert(success, out);
  return out;
}

/** The key a `create` printed (it is shown once). */
export function keyIn(output: string): string {
  const key = output.match(/pb_[a-z0-9]{12}_[A-Za-z0-9_-]{43}/)?.[0];
  assert(key, `no key in: ${output}`);
  return key;
}

/** Creates an API key for `groups` (comma-separated prefixes) in the store at `data`. */
export async function createApiKey(data: string, name: string, groups: string): Promise<string> {
  return keyIn(await keysCli(["create", "--name", name, "--groups", groups, "--data", data]));
}
