// A port for a server that must come back on the same port after a kill.
//
// Port 0 and every outgoing connection draw from the kernel's ephemeral range,
// so in CI, where other tests open thousands of sockets at once, a port
// freed by a killed server can be taken before its restart binds it again.
// Below that range only explicit binds take a port.

/** A free port below the ephemeral range, chosen at random (so parallel tests differ). */
export async function portBelowEphemeralRange(): Promise<number> {
  const low = await ephemeralLow();
  const from = Math.min(20_000, low - 1_000);
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = from + Math.floor(Math.random() * (low - from));
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    }
  }
  throw new Error(`no free port in ${from}–${low - 1}`);
}

async function ephemeralLow(): Promise<number> {
  try {
    const text = await Deno.readTextFile("/proc/sys/net/ipv4/ip_local_port_range");
    const low = Number(text.trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 3_000) return low;
  } catch {
    // Not Linux: the IANA range starts at 49152.
  }
  return 49_152;
}
