// The sensor ids in listing order, saved with a checkpoint: after a restart
// the first tick checks this order (one pass) instead of sorting every id
// (CollationOrder.expect). Only ever a hint: anything unreadable is none.

/** The name the id order goes under in a checkpoint's parts. */
export const ID_ORDER_PART = "idOrder";

const HEADER = "pulseboard id order 1\n";

/** Ids as one UTF-8 text, a line each (ids hold no line breaks: protocol/names.ts). */
export function encodeIdOrder(ids: readonly string[]): Uint8Array {
  return new TextEncoder().encode(HEADER + ids.join("\n"));
}

/** The ids `encodeIdOrder` saved; null for no part, or one of another format. */
export function decodeIdOrder(bytes: Uint8Array | null | undefined): string[] | null {
  if (!bytes || bytes.byteLength < HEADER.length) return null;
  const text = new TextDecoder().decode(bytes);
  if (!text.startsWith(HEADER)) return null;
  return text.length === HEADER.length ? [] : text.slice(HEADER.length).split("\n");
}
