import fc from "fast-check";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { allowedHosts, NO_HOSTS, parseAllowedHost, parseHost } from "./allowed_hosts.ts";

const port = fc.integer({ min: 1, max: 65_535 });
const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

Deno.test("parseHost reads name[:port], lower-cased, and refuses anything else", () => {
  fc.assert(
    fc.property(fc.domain(), fc.option(port, { nil: null }), (name, p) => {
      const text = p === null ? name : `${name}:${p}`;
      assertEquals(parseHost(text.toUpperCase()), { name: name.toLowerCase(), port: p });
    }),
  );
  fc.assert(
    fc.property(
      fc.domain(),
      fc.constantFrom("/", "@", "?", "#", " ", "\\", "%", ","),
      fc.nat(3),
      (name, junk, at) => {
        const cut = Math.min(at, name.length);
        assertEquals(parseHost(name.slice(0, cut) + junk + name.slice(cut)), null);
      },
    ),
  );
  for (const bad of ["", "a.", ":80", "a:", "a:0", "a:65536", "a:1:2", "[::1", "[zz::1]:80"]) {
    assertEquals(parseHost(bad), null, bad);
  }
  assertEquals(parseHost("[0:0:0::1]:8000"), { name: "[::1]", port: 8000 });
});

Deno.test("parseAllowedHost keeps a valid entry and names a bad one in a TypeError", () => {
  assertEquals(parseAllowedHost("Dash.Example.com:8443"), "dash.example.com:8443");
  let caught: unknown;
  try {
    parseAllowedHost("https://dash.example.com");
  } catch (error) {
    caught = error;
  }
  assert(caught instanceof TypeError && caught.message.includes("https://dash.example.com"));
});

Deno.test("on loopback only the loopback names with the bound port are allowed", () => {
  fc.assert(
    fc.property(port, fc.domain(), fc.option(port, { nil: null }), (bound, name, p) => {
      const hosts = allowedHosts({ hostname: "127.0.0.1", port: bound }, { scheme: "http:" });
      const host = p === null ? name : `${name}:${p}`;
      const expected = LOOPBACK.has(name) && (p ?? 80) === bound;
      assertEquals(hosts.allows(host), expected, host);
      for (const own of LOOPBACK) {
        assert(hosts.allows(`${own}:${bound}`), own);
        assertEquals(hosts.allows(`${own}:${bound === 65_535 ? 1 : bound + 1}`), false, own);
      }
    }),
  );
});

Deno.test("a listed name without a port matches any port; with a port, only that port", () => {
  fc.assert(
    fc.property(fc.domain(), fc.domain(), port, port, (free, pinned, p, q) => {
      fc.pre(free !== pinned && !LOOPBACK.has(free) && !LOOPBACK.has(pinned));
      const hosts = allowedHosts({ hostname: "10.1.2.3", port: 8000 }, {
        scheme: "https:",
        names: [free, `${pinned}:${p}`],
      });
      assert(hosts.allows(free) && hosts.allows(`${free}:${q}`));
      assert(hosts.allows(`${pinned}:${p}`));
      assertEquals(hosts.allows(`${pinned}:${q}`), p === q);
      assertEquals(hosts.allows(pinned), p === 443, "no port is the scheme's default");
      assert(hosts.allows("10.1.2.3:8000"), "the bound address");
      assertEquals(hosts.allows("localhost:8000"), false, "not on loopback");
    }),
  );
});

Deno.test("a wildcard listener allows loopback names and this machine's addresses with its port", () => {
  const hosts = allowedHosts({ hostname: "0.0.0.0", port: 8000 }, {
    scheme: "http:",
    interfaces: ["192.0.2.10", "2001:db8::5", "fe80::1%eth0"],
  });
  for (const host of ["localhost:8000", "127.0.0.1:8000", "[::1]:8000", "192.0.2.10:8000"]) {
    assert(hosts.allows(host), host);
  }
  assert(hosts.allows("[2001:db8:0:0::5]:8000"));
  for (const host of ["0.0.0.0:8000", "192.0.2.10:8001", "192.0.2.11:8000", "example.com:8000"]) {
    assertEquals(hosts.allows(host), false, host);
  }
});

Deno.test("an own origin is this server's scheme with an allowed host, whatever the request says", () => {
  fc.assert(
    fc.property(
      fc.constantFrom("http:", "https:"),
      fc.constantFrom("http:", "https:"),
      fc.oneof(fc.domain(), fc.constantFrom(...LOOPBACK)),
      fc.option(port, { nil: null }),
      (scheme, originScheme, name, p) => {
        const hosts = allowedHosts({ hostname: "127.0.0.1", port: 8000 }, {
          scheme: scheme as "http:" | "https:",
          names: ["dash.example.com"],
        });
        const host = p === null ? name : `${name}:${p}`;
        const origin = new URL(`${originScheme}//${host}`).origin; // as a browser sends it
        assertEquals(
          hosts.isOwnOrigin(origin),
          originScheme === scheme && hosts.allows(host),
          origin,
        );
      },
    ),
  );
  const hosts = allowedHosts({ hostname: "127.0.0.1", port: 8000 }, { scheme: "http:" });
  for (const origin of ["null", "", "http://localhost:8000/", "http://u@localhost:8000"]) {
    assertEquals(hosts.isOwnOrigin(origin), false, origin);
  }
  assertEquals(NO_HOSTS.allows("localhost:8000"), false);
});
