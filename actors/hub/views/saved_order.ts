// The sensors in listing order, saved with a checkpoint: after a restart the
// first tick checks this order (one pass) instead of sorting every id
// (CollationOrder.expect). Sensors are the router's indexes, which the
// checkpoint keeps. Only ever a hint: anything unreadable is none.

/** The name the id order goes under in a checkpoint's parts. */
export const ID_ORDER_PART = "idOrder";

/** "PBI1": the format, and that these are sensor indexes in id order. */
const MAGIC = 0x31494250;

/** The sensor indexes as little-endian 32-bit words after a magic word. */
export function encodeIdOrder(items: Uint32Array): Uint8Array {
  const bytes = new Uint8Array(4 * (items.length + 1));
  const view = new DataView(bytes.buffer);
  view.setUint32(0, MAGIC, true);
  for (let i = 0; i < items.length; i++) view.setUint32(4 * (i + 1), items[i], true);
  return bytes;
}

/** The sensor indexes `encodeIdOrder` saved; null for no part, or one of another format. */
export function decodeIdOrder(bytes: Uint8Array | null | undefined): Uint32Array | null {
  if (!bytes || bytes.byteLength < 4 || bytes.byteLength % 4 !== 0) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) return null;
  const items = new Uint32Array(bytes.byteLength / 4 - 1);
  for (let i = 0; i < items.length; i++) items[i] = view.getUint32(4 * (i + 1), true);
  return items;
}
