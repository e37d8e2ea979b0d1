import { assert, assertEquals } from "../../../tests/testing/assert.ts";
import { readFeedRequest } from "./feed_request.ts";
import type { Viewer } from "../../auth/mod.ts";

const viewer: Viewer = { subject: "alice", groups: ["plant-a"], expiresAt: 2e12 };
const tokens = {
  verify: (token: string) =>
    token === "good" ? Promise.resolve(viewer) : Promise.reject(new Error("bad signature")),
};
const upgrade = (path: string, protocols?: string) =>
  new Request(`http://x${path}`, {
    headers: protocols ? { "sec-websocket-protocol": protocols } : {},
  });

Deno.test("a feed request takes only subscribe=explicit, windows=1 and encoding=compact in its query", async () => {
  assertEquals(await readFeedRequest(upgrade("/ws")), {
    explicit: false,
    windows: false,
    encoding: "full",
    viewer: null,
  });
  assertEquals(
    await readFeedRequest(upgrade("/ws?subscribe=explicit&windows=1&encoding=compact")),
    {
      explicit: true,
      windows: true,
      encoding: "compact",
      viewer: null,
    },
  );
  for (const query of ["?subscribe=all", "?windows=yes", "?debug=1", "?encoding=zip"]) {
    const answer = await readFeedRequest(upgrade(`/ws${query}`));
    assert(answer instanceof Response, query);
    assertEquals(answer.status, 400, query);
  }
});

Deno.test("a subprotocol token must verify (401) and come with the pulseboard subprotocol (400)", async () => {
  assertEquals(await readFeedRequest(upgrade("/ws", "pulseboard, bearer.good"), tokens), {
    explicit: false,
    windows: false,
    encoding: "full",
    viewer,
  });
  const bad = await readFeedRequest(upgrade("/ws", "pulseboard, bearer.forged"), tokens);
  assert(bad instanceof Response);
  assertEquals([bad.status, bad.headers.get("www-authenticate")], [
    401,
    'Bearer realm="pulseboard"',
  ]);
  const alone = await readFeedRequest(upgrade("/ws", "bearer.good"), tokens);
  assert(alone instanceof Response);
  assertEquals(alone.status, 400);
  // Without tokens configured a subprotocol token is not checked.
  const unchecked = await readFeedRequest(upgrade("/ws", "pulseboard, bearer.x"));
  assert(!(unchecked instanceof Response));
  assertEquals(unchecked.viewer, null);
});

Deno.test("a feed request naming a query parameter twice is refused with 400 naming it, whatever the values", async () => {
  for (
    const query of [
      "?encoding=compact&encoding=full",
      "?encoding=full&encoding=compact",
      "?encoding=compact&encoding=compact",
      "?windows=1&subscribe=explicit&windows=true",
      "?subscribe=explicit&subscribe=explicit",
    ]
  ) {
    const answer = await readFeedRequest(upgrade(`/ws${query}`));
    assert(answer instanceof Response, query);
    assertEquals(answer.status, 400, query);
    const name = new URLSearchParams(query).keys().toArray().find((key, i, all) =>
      all.indexOf(key) !== i
    );
    assert((await answer.text()).includes(`parameter ${name} is given more than once`), query);
  }
});
