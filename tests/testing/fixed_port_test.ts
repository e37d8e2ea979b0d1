import { assert } from "./assert.ts";
import { portBelowEphemeralRange } from "./fixed_port.ts";

Deno.test("a fixed port is free and below the kernel's ephemeral range", async () => {
  const text = await Deno.readTextFile("/proc/sys/net/ipv4/ip_local_port_range").catch(() =>
    "49152 65535"
  );
  const low = Number(text.trim().split(/\s+/)[0]);
  for (let i = 0; i < 20; i++) {
    const port = await portBelowEphemeralRange();
    assert(port >= 1024 && port < low, `${port} below ${low}`);
    const listener = Deno.listen({ hostname: "127.0.0.1", port });
    listener.close();
  }
});
