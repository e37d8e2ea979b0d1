import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { ThreadPriority } from "./thread_priority.ts";

// In a process of its own: niceness is per thread, and the test runner's threads are not ours to change.
const probe = `
import { ThreadPriority } from ${
  JSON.stringify(new URL("./thread_priority.ts", import.meta.url).href)
};
const kv = await Deno.openKv(":memory:"); // Deno KV's writer thread
await kv.set(["k"], 1);
const worker = new Worker("data:application/javascript,self.onmessage=()=>{}", { type: "module" });
await new Promise((resolve) => setTimeout(resolve, 200));
const priority = new ThreadPriority(4, { everyMs: 3_600_000 });
const threads = [...Deno.readDirSync("/proc/self/task")].map((t) => {
  const stat = Deno.readTextFileSync("/proc/self/task/" + t.name + "/stat");
  return {
    tid: Number(t.name),
    name: Deno.readTextFileSync("/proc/self/task/" + t.name + "/comm").trim(),
    nice: Number(stat.split(") ")[1].split(" ")[16]),
  };
});
console.log(JSON.stringify({ pid: Deno.pid, set: priority.stats.threads, again: priority.apply(), threads }));
priority.stop();
worker.terminate();
kv.close();
`;

Deno.test("Deno KV's writer, V8's and tokio's threads get the nice added; the event loop's thread and workers keep theirs; 0 is off", async () => {
  assertEquals(new ThreadPriority(0).stats.off, "--background-nice 0");
  if (Deno.build.os !== "linux") return;
  const { stdout, success } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--unstable-kv", probe],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert(success, "the probe ran");
  const report = JSON.parse(new TextDecoder().decode(stdout)) as {
    pid: number;
    set: number;
    again: number;
    threads: { tid: number; name: string; nice: number }[];
  };
  const main = report.threads.find((t) => t.tid === report.pid)!;
  const background = report.threads.filter((t) => /^(sw-\d+|V8 |tokio-runtime)/.test(t.name));
  assert(background.some((t) => t.name.startsWith("sw-")), "Deno KV's writer is there");
  assert(background.some((t) => t.name.startsWith("V8 ")), "V8's threads are there");
  for (const t of background) assertEquals(t.nice, Math.min(19, main.nice + 4), t.name);
  assertEquals(report.set, background.length);
  assertEquals(report.again, 0, "a second pass sets nothing again");
  for (const t of report.threads.filter((t) => !background.includes(t))) {
    assertEquals(t.nice, main.nice, `${t.name} keeps the event loop's nice`);
  }
});
