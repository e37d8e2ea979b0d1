// `deno task keys create|list|revoke`: manages ingest API keys in the
// server's Deno KV file. Keys are shown once, at creation; only their hash is stored.
import { parseArgs } from "node:util";
import { ApiKeys } from "../server/auth/mod.ts";
import { DEFAULT_CONFIG } from "../server/config/options.ts";

const USAGE = `Usage:
  deno task keys create --name <name> --groups <prefix,prefix|*> [--data <file>]
  deno task keys list [--data <file>]
  deno task keys revoke <id> [--data <file>]`;

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: { name: { type: "string" }, groups: { type: "string" }, data: { type: "string" } },
});
const [command, ...rest] = positionals;
const data = values.data ?? DEFAULT_CONFIG.data;
if (data !== ":memory:") {
  await Deno.mkdir(data.slice(0, data.lastIndexOf("/")) || ".", { recursive: true });
}
const kv = await Deno.openKv(data);
const keys = new ApiKeys(kv);
try {
  switch (command) {
    case "create": {
      if (!values.name || !values.groups) {
        throw new TypeError(`create needs --name and --groups\n\n${USAGE}`);
      }
      const groups = values.groups.split(",").map((g) => g.trim()).filter(Boolean);
      const { key, record } = await keys.create(values.name, groups);
      console.log(
        `created key ${record.id} (${record.name}) for groups ${record.groups.join(", ")}`,
      );
      console.log(
        `\n  ${key}\n\nStore it now: it is not shown again. Send it as "Authorization: Bearer <key>".`,
      );
      break;
    }
    case "list":
      for (const r of await keys.list()) {
        const state = r.revokedAt ? `revoked ${new Date(r.revokedAt).toISOString()}` : "active";
        console.log(
          `${r.id}  ${r.name}  groups=${r.groups.join(",")}  created ${
            new Date(r.createdAt).toISOString()
          }  ${state}`,
        );
      }
      break;
    case "revoke":
      if (rest.length !== 1) throw new TypeError(`revoke needs one key id\n\n${USAGE}`);
      if (!(await keys.revoke(rest[0]))) throw new TypeError(`No key with id ${rest[0]}`);
      console.log(`revoked ${rest[0]} (servers stop accepting it within 5 s)`);
      break;
    default:
      throw new TypeError(USAGE);
  }
} catch (error) {
  console.error((error as Error).message);
  Deno.exitCode = 2;
} finally {
  kv.close();
}
