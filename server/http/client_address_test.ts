import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { clientAddress, compileProxyTrust } from "./client_address.ts";
import type { ConnectionInfo } from "./app.ts";

const peer = (hostname: string): ConnectionInfo => ({ remoteAddr: { hostname, port: 40000 } });
const forwarded = (value: string) =>
  new Request("http://x/ws", { headers: { "x-forwarded-for": value } });

Deno.test("X-Forwarded-For is believed only from trusted proxies, up to the first untrusted hop", () => {
  const trust = compileProxyTrust(["10.0.0.0/8", "loopback"]);
  // No trust configured: the header is ignored.
  assertEquals(clientAddress(forwarded("1.2.3.4"), peer("10.0.0.5"), null), "10.0.0.5");
  // A trusted proxy: its client is the address.
  assertEquals(clientAddress(forwarded("203.0.113.9"), peer("10.0.0.5"), trust), "203.0.113.9");
  // A client that forges hops ahead of its own address gains nothing.
  assertEquals(
    clientAddress(forwarded("1.1.1.1, 203.0.113.9, 10.0.0.7"), peer("127.0.0.1"), trust),
    "203.0.113.9",
  );
  // An untrusted peer's header is ignored.
  assertEquals(clientAddress(forwarded("1.2.3.4"), peer("198.51.100.1"), trust), "198.51.100.1");
  // A trusted proxy without the header is the client itself.
  assertEquals(clientAddress(new Request("http://x/"), peer("10.0.0.5"), trust), "10.0.0.5");
});

Deno.test("a bad trusted-proxy entry is refused by name", () => {
  for (const bad of ["10.0.0.0/99", "not-an-ip"]) {
    let message = "";
    try {
      compileProxyTrust([bad]);
    } catch (error) {
      if (error instanceof TypeError) message = error.message;
    }
    assert(message.startsWith("--trusted-proxies"), `${bad}: ${message}`);
  }
  assertEquals(compileProxyTrust([]), null);
});
