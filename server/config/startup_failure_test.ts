import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { DEFAULT_CONFIG } from "./options.ts";
import { fileFailure, listenFailure, startupFailure } from "./startup_failure.ts";

const config = {
  ...DEFAULT_CONFIG,
  port: 8080,
  host: "127.0.0.1",
  mqttPort: 1883,
  mqttsPort: 8883,
  certFile: "/etc/pb/cert.pem",
  keyFile: "/etc/pb/key.pem",
  data: "/var/lib/pb/store.kv",
};

Deno.test("a port in use names the address and the option that chose it", () => {
  const failure = (port: number) =>
    listenFailure({ code: "EADDRINUSE", syscall: "listen", port }, config);
  assertEquals(
    failure(8080),
    "Cannot listen on 127.0.0.1:8080 (--port): the port is in use by another program. " +
      "Stop it, or choose another port with --port (0 picks a free one).",
  );
  assert(failure(1883)!.includes("(--mqtt-port)"), failure(1883)!);
  assert(failure(8883)!.includes("with --mqtts-port"), failure(8883)!);
  assert(!failure(9999)!.includes("--"), "a port no option chose names none");
});

Deno.test("privileged ports and foreign addresses say what to do; other errors are not listen failures", () => {
  const denied = listenFailure({ code: "EACCES", syscall: "listen", port: 8080 }, {
    ...config,
    host: "::1",
  });
  assertEquals(
    denied,
    "Cannot listen on [::1]:8080 (--port): permission denied. " +
      "Ports below 1024 need privileges; choose a port of 1024 or more.",
  );
  const foreign = listenFailure({ code: "EADDRNOTAVAIL", syscall: "listen", port: 8080 }, {
    ...config,
    host: "10.9.9.9",
  });
  assert(foreign!.includes("10.9.9.9 is not an address of this machine (--host)"), foreign!);
  assertEquals(listenFailure({ code: "ENOENT", syscall: "open" }, config), null);
  assertEquals(listenFailure(new TypeError("x"), config), null);
  assertEquals(listenFailure(null, config), null);
});

Deno.test("a file an option names that cannot be read says which option, which file and why", async () => {
  // Deno's own errors, as reading the files gives them.
  const readError = (path: string) => Deno.readTextFile(path).then(() => null, (e) => e);
  const dir = await Deno.makeTempDir();
  try {
    const missing = `${dir}/cert.pem`;
    assertEquals(
      startupFailure(await readError(missing), { ...config, certFile: missing }),
      `Cannot use ${missing} (--cert): there is no such file.`,
    );
    assertEquals(
      startupFailure(await readError(dir), { ...config, keyFile: dir }),
      `Cannot use ${dir} (--key): it is a directory, not a file.`,
    );
    // An error that carries its path (the store's), and its own reason.
    const kv = Object.assign(new Error("file is not a database"), { path: config.data });
    assertEquals(
      fileFailure(kv, config),
      "Cannot use /var/lib/pb/store.kv (--data): file is not a database.",
    );
    // A path no option names is not explained as an option's.
    assertEquals(startupFailure(await readError(`${dir}/other`), config), null);
    assertEquals(startupFailure(new RangeError("x"), config), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
