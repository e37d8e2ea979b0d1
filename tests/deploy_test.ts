// deploy/: the compose file parses and wires a replica set, two instances and a load balancer.
import { parse } from "yaml";
import { assert, assertEquals } from "./testing/assert.ts";
import { parseConfig } from "../server/config/options.ts";

const root = new URL("../deploy/", import.meta.url);

Deno.test("deploy compose file: 3-member replica set, two mongo-mode instances, nginx over both", async () => {
  const compose = parse(await Deno.readTextFile(new URL("docker-compose.yml", root)));
  const services = compose.services as Record<string, Record<string, unknown>>;
  const mongods = Object.entries(services).filter(([, s]) =>
    String(s.image ?? "").startsWith("mongo:") &&
    (s.command as string[] | undefined)?.[0] === "mongod"
  );
  assertEquals(mongods.length, 3);
  for (const [, s] of mongods) {
    const command = s.command as string[];
    assertEquals(command[command.indexOf("--replSet") + 1], "rs0");
  }
  const init = (services["mongo-init"].entrypoint as string[]).join(" ");
  assert(/rs\.initiate/.test(init), "the replica set is initiated");
  for (const [name] of mongods) assert(init.includes(`${name}:27017`), `${name} is a member`);

  const instances = Object.entries(services).filter(([name]) => name.startsWith("pulseboard-"));
  assertEquals(instances.length, 2);
  const volumes = new Set<string>();
  for (const [name, s] of instances) {
    const env = s.environment as Record<string, string>;
    assertEquals(env.PULSEBOARD_SOURCE, "mongo", name);
    assert(/replicaSet=rs0/.test(env.PULSEBOARD_MONGO_URI), name);
    for (const [mongod] of mongods) assert(env.PULSEBOARD_MONGO_URI.includes(mongod), name);
    assert(env.PULSEBOARD_MONGO_DB && env.PULSEBOARD_MONGO_COLLECTION, name);
    assertEquals((s.build as { dockerfile: string }).dockerfile, "deploy/Dockerfile");
    // The instance's options are ones the server accepts; behind nginx it trusts the private range.
    const command = s.command as string[];
    const config = parseConfig(command.slice(command.indexOf("main.ts") + 1));
    assertEquals([config.host, config.trustedProxies], ["0.0.0.0", ["uniquelocal"]], name);
    // nginx passes the browser's Host on: the published address must be an allowed host.
    const published = (services.lb.ports as string[])[0].split(":")[0];
    assert(config.allowedHosts.includes(`localhost:${published}`), name);
    // Each instance keeps its own Deno KV checkpoint.
    const volume = (s.volumes as string[])[0].split(":")[0];
    assert(!volumes.has(volume), "instances do not share a KV volume");
    volumes.add(volume);
  }

  const lb = services.lb;
  const mount = (lb.volumes as string[])[0].split(":")[0];
  const nginx = await Deno.readTextFile(new URL(mount, root));
  for (const [name] of instances) assert(nginx.includes(`server ${name}:8000`), name);
  assert(/proxy_set_header Upgrade \$http_upgrade/.test(nginx), "WebSocket upgrade");
  assert(/proxy_set_header Connection \$connection_upgrade/.test(nginx), "Connection header");
  assert(/location \/ws/.test(nginx), "/ws location");
  assert(await Deno.stat(new URL("Dockerfile", root)), "Dockerfile");
  assert(/deploy\/README\.md/.test(await Deno.readTextFile(new URL("../README.md", root))));
});
