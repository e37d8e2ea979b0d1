/**
 * Picks the shard that owns a sensor: 32-bit FNV-1a over the id's UTF-16 code
 * units (equal to FNV-1a over UTF-8 for ASCII ids), modulo `shardCount`.
 * Pure and stable across runs, processes and instances.
 */
export function shardFor(sensorId: string, shardCount: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < sensorId.length; i++) {
    hash ^= sensorId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shardCount;
}
