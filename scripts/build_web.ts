// `deno task build:web`: builds the dashboard into web/build with Vite under
// Deno, then precompresses it (brotli and gzip beside each text file). Skips
// the build when web/build is newer than every source it comes from, and
// installs the npm packages first on a fresh checkout.
import { precompress } from "./precompress.ts";

const root = new URL("..", import.meta.url).pathname;
const web = `${root}web/`;
const output = `${web}build/index.html`;
const sources = [
  `${web}src`,
  `${web}static`,
  `${web}package.json`,
  `${web}vite.config.ts`,
  `${root}protocol`,
];

async function newestMtime(path: string): Promise<number> {
  const info = await Deno.stat(path).catch(() => null);
  if (!info) return 0;
  if (!info.isDirectory) return info.mtime?.getTime() ?? 0;
  let newest = 0;
  for await (const entry of Deno.readDir(path)) {
    newest = Math.max(newest, await newestMtime(`${path}/${entry.name}`));
  }
  return newest;
}

async function run(args: string[], cwd: string): Promise<void> {
  const { success, code } = await new Deno.Command(Deno.execPath(), { args, cwd }).spawn().status;
  if (!success) {
    console.error(`build:web: \`deno ${args.join(" ")}\` failed with exit code ${code}`);
    Deno.exit(code || 1);
  }
}

const built = await Deno.stat(output).then((i) => i.mtime?.getTime() ?? 0, () => 0);
const newest = Math.max(...await Promise.all(sources.map(newestMtime)));
if (built > newest && !Deno.args.includes("--force")) {
  console.log("build:web: web/build is up to date");
  Deno.exit(0);
}
if (!(await Deno.stat(`${web}node_modules/vite`).then(() => true, () => false))) {
  console.log("build:web: installing npm packages (deno install)");
  await run(["install"], root);
}
console.log("build:web: building the dashboard with Vite");
await run(["run", "-A", "npm:vite@8.3.8", "build"], web);
const packed = await precompress(`${web}build`);
const kb = (n: number) => `${Math.round(n / 1024)} KB`;
console.log(
  `build:web: precompressed ${packed.files} files: ${kb(packed.bytes)} → ` +
    `${kb(packed.brotliBytes)} brotli, ${kb(packed.gzipBytes)} gzip`,
);
