/**
 * FNV-1a (32 bits) over a publish's topic and payload: what tells a retry
 * (same packet id, same message) from a new message that reuses the id once
 * its PUBACK arrived. A collision needs the same client, the same packet id
 * and a retry window: 1 in 4 billion.
 */
export function fingerprint(topic: string, payload: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < topic.length; i++) hash = Math.imul(hash ^ topic.charCodeAt(i), 0x01000193);
  // A separator, so topic "a/b" + payload "c" differs from "a/" + "bc".
  hash = Math.imul(hash ^ 0xff, 0x01000193);
  for (let i = 0; i < payload.length; i++) hash = Math.imul(hash ^ payload[i], 0x01000193);
  return hash >>> 0;
}
