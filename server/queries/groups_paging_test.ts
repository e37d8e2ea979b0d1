import fc from "fast-check";
import { assert, assertEquals } from "../../tests/testing/assert.ts";
import { groupsRoute } from "./groups_route.ts";

interface Listed {
  group: string;
  sensors: number;
}

/** The route over a fixed list of groups (sorted, as the hub gives them). */
function routeOver(groups: Listed[]) {
  const sorted = [...groups].sort((a, b) => (a.group < b.group ? -1 : 1));
  const route = groupsRoute({
    scope: () => Promise.resolve(null),
    groups: () => Promise.resolve(sorted),
    now: () => 0,
  });
  return (query = "") => route(new Request(`http://h/api/groups${query}`));
}

/** Every page from the first, following `nextCursor`, with `limit`. */
async function allPages(get: ReturnType<typeof routeOver>, limit: number) {
  const pages: Listed[][] = [];
  let cursor: string | null = null;
  do {
    const query: string = `?limit=${limit}` +
      (cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`);
    const response = await get(query);
    assertEquals(response.status, 200, query);
    const body = await response.json() as { groups: Listed[]; nextCursor: string | null };
    assert(body.groups.length <= limit, `${body.groups.length} groups, limit ${limit}`);
    pages.push(body.groups);
    cursor = body.nextCursor;
    assert(pages.length <= 1_000, "pages end");
  } while (cursor !== null);
  return pages;
}

Deno.test("GET /api/groups answers at most 10,000 groups a page by default, with a cursor to the rest", async () => {
  const groups = Array.from({ length: 12_345 }, (_, i) => ({
    group: `site-${String(i).padStart(5, "0")}`,
    sensors: 1,
  }));
  const get = routeOver(groups);
  const first = await (await get()).json();
  assertEquals(first.groups.length, 10_000);
  assertEquals(first.groups[9_999].group, "site-09999");
  assert(typeof first.nextCursor === "string");
  const second = await (await get(`?cursor=${encodeURIComponent(first.nextCursor)}`)).json();
  assertEquals(second.groups.length, 2_345);
  assertEquals(second.groups[0].group, "site-10000");
  assertEquals(second.nextCursor, null);
});

Deno.test("GET /api/groups pages, the default group first, cover every group once in order (property)", async () => {
  const segment = fc.stringMatching(/^[a-c0-9._:-]{1,3}$/);
  const path = fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => s.join("/"));
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(fc.oneof(path, fc.constant("")), { maxLength: 60 }),
      fc.integer({ min: 1, max: 25 }),
      async (names, limit) => {
        const groups = names.map((group, i) => ({ group, sensors: i + 1 }));
        const pages = await allPages(routeOver(groups), limit);
        const expected = [...names].sort((a, b) => (a < b ? -1 : 1));
        assertEquals(pages.flat().map((g) => g.group), expected);
        // Only the last page may be short (an empty one only for an empty fleet).
        for (const page of pages.slice(0, -1)) assertEquals(page.length, limit);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("GET /api/groups refuses a limit out of 1..10,000 and a cursor it did not give, saying why", async () => {
  const get = routeOver([{ group: "a", sensors: 1 }]);
  for (const limit of ["0", "10001", "x", "1.5", "-1"]) {
    const response = await get(`?limit=${limit}`);
    assertEquals(response.status, 400, limit);
    const text = await response.text();
    assert(text.includes("limit must be an integer from 1 to 10000"), text);
  }
  for (const cursor of ["%%%", "not base64 !", "AAAA", "a".repeat(500)]) {
    const response = await get(`?cursor=${encodeURIComponent(cursor)}`);
    assertEquals(response.status, 400, cursor);
    assert((await response.text()).includes("cursor is not one this API gave"), cursor);
  }
});
