import { assertEquals } from "../../../tests/testing/assert.ts";
import { ViewerAuth } from "./viewer_auth.ts";
import type { Viewer } from "../../auth/mod.ts";

const viewer = (groups: string[], expiresAt: number): Viewer => ({
  subject: "alice",
  groups,
  expiresAt,
});

/** Tokens named by their groups and lifetime: "plant-a:60000". */
const tokens = {
  verify(token: string): Promise<Viewer> {
    const [groups, ms] = token.split(":");
    if (!ms) return Promise.reject(new Error("signature verification failed"));
    return Promise.resolve(viewer(groups.split(","), Date.now() + Number(ms)));
  },
};

function record() {
  const events: string[] = [];
  return {
    events,
    onJoin: (v: Viewer | null) => events.push(`join ${v?.groups.join(",") ?? "anyone"}`),
    onRefuse: (code: number, reason: string) => events.push(`${code} ${reason}`),
  };
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("without tokens a connection joins at once, and an Auth message is refused with 4000", async () => {
  const r = record();
  const auth = new ViewerAuth(undefined, { viewer: null, ...r });
  auth.opened();
  await auth.authenticate("plant-a:1000");
  auth.stop();
  assertEquals(r.events, ["join anyone", "4000 this server does not use tokens"]);
  assertEquals(auth.authenticated, true);
});

Deno.test("with tokens a connection joins at its first valid token, and is refused without one in time", async () => {
  const r = record();
  const auth = new ViewerAuth(tokens, { viewer: null, authTimeoutMs: 30, ...r });
  auth.opened();
  assertEquals(auth.authenticated, false);
  await auth.authenticate("forged");
  await auth.authenticate("plant-a:60000");
  assertEquals(r.events, ["4003 signature verification failed", "join plant-a"]);
  await wait(60); // past the deadline: it was cleared at the join
  auth.stop();
  assertEquals(r.events.length, 2);

  const late = record();
  const silent = new ViewerAuth(tokens, { viewer: null, authTimeoutMs: 20, ...late });
  silent.opened();
  await wait(50);
  silent.stop();
  assertEquals(late.events, ["4003 authenticate with a token first"]);
});

Deno.test("a token expires with 4003 unless refreshed with the same groups", async () => {
  const r = record();
  const auth = new ViewerAuth(tokens, { viewer: viewer(["plant-a"], Date.now() + 40), ...r });
  auth.opened();
  await auth.authenticate("plant-a:100"); // refreshed: expires later
  await wait(60);
  assertEquals(r.events, ["join plant-a"], "the refresh moved the expiry");
  await wait(80);
  assertEquals(r.events, ["join plant-a", "4003 token expired: send a fresh token before expiry"]);
  await auth.authenticate("plant-b:60000");
  auth.stop();
  assertEquals(r.events[2], "4003 a refreshed token must carry the same groups: reconnect");
});
