/**
 * The next capacity of the hub's columns by sensor or by value (the
 * mirror, its slot table, sparkline arenas, sort keys, attention, frame
 * marks) when `needed` passes `current`: a quarter more, or exactly what is
 * needed when that is more (a restart's first tick: every sensor at once).
 * Doubling left up to half of these columns empty: at 100,000 sensors they
 * reached 131,072 (sparklines: 22 MB unused) and the mirror's windows
 * 1,048,576 for 700,000. Amortized, the copies stay linear (about 5× the
 * final size in all when a fleet arrives a little at a time).
 */
export function grownCapacity(current: number, needed: number, least = 1024): number {
  return Math.max(needed, Math.ceil(current * 1.25), least);
}
