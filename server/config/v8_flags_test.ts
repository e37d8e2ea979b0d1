import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { SERVER_V8_FLAGS, SERVER_V8_FLAGS_ARG } from "./v8_flags.ts";

const root = new URL("../../", import.meta.url);

Deno.test("deno task start and the container image start the server with the server's V8 flags", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  assertEquals(config.tasks.start, `deno run -A ${SERVER_V8_FLAGS_ARG} main.ts`);
  const dockerfile = await Deno.readTextFile(new URL("deploy/Dockerfile", root));
  assert(
    dockerfile.split("\n").includes(`ENV DENO_V8_FLAGS=${SERVER_V8_FLAGS}`),
    "deploy/Dockerfile sets DENO_V8_FLAGS",
  );
});

Deno.test("the server's V8 flags keep the young generation's semi-space within 4 MB under allocation", async () => {
  // Objects that live a little while (a ring of recent ones) grow the young generation to its
  // cap. What is read is a semi-space's capacity (used + available): the space's own size also
  // counts pages in flux, 4.4–10 MB with the flags when the machine is busy (a parallel test run).
  const script = `
    import v8 from "node:v8";
    const ring = new Array(100_000);
    for (let i = 0; i < 5_000_000; i++) ring[i % ring.length] = { a: i, b: [i, i] };
    const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space");
    const capacity = space.space_used_size + space.space_available_size;
    console.log(JSON.stringify({ capacity, ring: ring.length }));
  `;
  const run = async (flags: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", ...flags, script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(out.success, new TextDecoder().decode(out.stderr));
    return JSON.parse(new TextDecoder().decode(out.stdout)).capacity as number;
  };
  const [capped, uncapped] = await Promise.all([run([SERVER_V8_FLAGS_ARG]), run([])]);
  // 4 MB, and a page of slack (measured: 4,194,048 B, once 4,456,176 B).
  assert(capped <= 4.5 * 2 ** 20, `semi-space ${capped} B with ${SERVER_V8_FLAGS}`);
  assert(
    uncapped > capped,
    `without the flags the semi-space grows past ${capped} B (it was ${uncapped} B)`,
  );
});
