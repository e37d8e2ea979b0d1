import { checkGroup } from "../../protocol/names.ts";

/** Most groups one GET /api/groups answer lists, and its default. */
export const MAX_GROUPS_PAGE = 10_000;

/** Where a page starts and how many groups it holds. */
export interface GroupsPageQuery {
  limit: number;
  /** The page starts after this group path; null: at the first. */
  after: string | null;
}

/**
 * `?limit=&cursor=` of GET /api/groups. Throws RangeError (400) for a limit
 * outside 1..MAX_GROUPS_PAGE or a cursor this API did not give.
 */
export function groupsPageQuery(params: URLSearchParams): GroupsPageQuery {
  const limitRaw = params.get("limit");
  const limit = limitRaw === null || limitRaw === "" ? MAX_GROUPS_PAGE : Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_GROUPS_PAGE) {
    throw new RangeError(
      `limit must be an integer from 1 to ${MAX_GROUPS_PAGE}, got "${limitRaw?.slice(0, 40)}"`,
    );
  }
  const cursor = params.get("cursor");
  return { limit, after: cursor === null || cursor === "" ? null : decodeCursor(cursor) };
}

/**
 * The page of `groups` (sorted by path in UTF-16 code-unit order, as the hub
 * lists them) that `query` names, and the cursor to the next page (null at
 * the last). A cursor is a group path, so a page follows on from the last
 * one seen even if groups came or went in between.
 */
export function groupsPage<T extends { group: string }>(
  groups: readonly T[],
  query: GroupsPageQuery,
): { groups: T[]; nextCursor: string | null } {
  let from = 0;
  if (query.after !== null) {
    // The first group after `after`: a binary search.
    let hi = groups.length;
    while (from < hi) {
      const mid = (from + hi) >>> 1;
      if (groups[mid].group <= query.after) from = mid + 1;
      else hi = mid;
    }
  }
  const page = groups.slice(from, from + query.limit);
  const more = from + query.limit < groups.length;
  return { groups: page, nextCursor: more ? encodeCursor(page[page.length - 1].group) : null };
}

// A cursor is "g:" and the path, base64url: the default group "" has one too.
function encodeCursor(group: string): string {
  return btoa("g:" + group).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
}

function decodeCursor(cursor: string): string {
  if (/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) {
    try {
      const text = atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
      const group = text.slice(2);
      if (text.startsWith("g:") && checkGroup(group) === null) return group;
    } catch {
      // not base64: refused below
    }
  }
  throw new RangeError("cursor is not one this API gave");
}
