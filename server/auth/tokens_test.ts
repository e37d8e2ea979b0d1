import * as jose from "jose";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { tokenFromProtocols, TokenVerifier } from "./tokens.ts";

const SECRET = "s".repeat(40);
const base = { issuer: "https://id.example", audience: "pulseboard" };

function sign(
  claims: jose.JWTPayload,
  options: { secret?: string; alg?: string; exp?: number; iss?: string; aud?: string } = {},
) {
  const jwt = new jose.SignJWT({ groups: ["plant-a"], ...claims })
    .setProtectedHeader({ alg: options.alg ?? "HS256" })
    .setIssuer(options.iss ?? base.issuer)
    .setAudience(options.aud ?? base.audience)
    .setSubject("viewer-1")
    .setExpirationTime(options.exp ?? Math.floor(Date.now() / 1000) + 60);
  return jwt.sign(new TextEncoder().encode(options.secret ?? SECRET));
}

async function refusal(verifier: TokenVerifier, token: string): Promise<string> {
  try {
    await verifier.verify(token);
    return "accepted";
  } catch (error) {
    assert(error instanceof TypeError, String(error));
    return error.message;
  }
}

Deno.test("tokens are verified for signature, issuer, audience, expiry and a groups claim", async () => {
  const verifier = TokenVerifier.create({ ...base, secret: SECRET });
  const viewer = await verifier.verify(await sign({}));
  assertEquals([viewer.subject, viewer.groups], ["viewer-1", ["plant-a"]]);
  assert(viewer.expiresAt > Date.now());
  assert(/signature/.test(await refusal(verifier, await sign({}, { secret: "x".repeat(40) }))));
  assert(/"iss"/.test(await refusal(verifier, await sign({}, { iss: "https://evil.example" }))));
  assert(/"aud"/.test(await refusal(verifier, await sign({}, { aud: "other" }))));
  assert(
    /"exp"/.test(
      await refusal(verifier, await sign({}, { exp: Math.floor(Date.now() / 1000) - 120 })),
    ),
  );
  assert(/groups claim/.test(await refusal(verifier, await sign({ groups: [] }))));
  assert(/not a group prefix/.test(await refusal(verifier, await sign({ groups: ["bad group"] }))));
  // An unsigned token ("alg": "none") is never accepted.
  const none = new jose.UnsecuredJWT({ groups: ["*"] }).setIssuer(base.issuer).setAudience(
    base.audience,
  )
    .setSubject("x").setExpirationTime("1h").encode();
  assert((await refusal(verifier, none)) !== "accepted");
});

Deno.test("a token within the clock tolerance is accepted just after expiry", async () => {
  const verifier = TokenVerifier.create({ ...base, secret: SECRET, clockToleranceSeconds: 30 });
  const token = await sign({}, { exp: Math.floor(Date.now() / 1000) - 10 });
  assertEquals((await verifier.verify(token)).subject, "viewer-1");
});

Deno.test("short secrets and missing issuer or audience are refused at start", () => {
  for (
    const options of [{ ...base, secret: "short" }, { ...base, issuer: "", secret: SECRET }, {
      ...base,
    }]
  ) {
    let message = "";
    try {
      TokenVerifier.create(options);
    } catch (error) {
      message = (error as Error).message;
    }
    assert(message !== "", JSON.stringify(options));
  }
});

Deno.test("the bearer token is taken from the offered subprotocols", () => {
  assertEquals(tokenFromProtocols("pulseboard, bearer.abc.def.ghi"), "abc.def.ghi");
  assertEquals(tokenFromProtocols("pulseboard"), null);
  assertEquals(tokenFromProtocols(null), null);
});
