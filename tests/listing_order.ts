// The dashboard's listing order of names, recomputed plainly for tests (the
// code under test uses actors/hub/views/natural_key.ts): case folded, cut
// into runs of ASCII digits and single other code units; runs compare by
// numeric value, a run against another character as "0" would, other
// characters by code unit; a prefix first. Names equal under that compare by
// code units.
export function listingCompare(a: string, b: string): number {
  const chunks = (s: string) => s.toLowerCase().match(/[0-9]+|[^0-9]/g) ?? [];
  const x = chunks(a), y = chunks(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const p = x[i], q = y[i];
    const pNum = /^[0-9]/.test(p), qNum = /^[0-9]/.test(q);
    if (pNum && qNum) {
      const m = BigInt(p), n = BigInt(q);
      if (m !== n) return m < n ? -1 : 1;
      continue;
    }
    const c = pNum ? "0" : p, d = qNum ? "0" : q;
    if (c !== d) return c < d ? -1 : 1;
  }
  if (x.length !== y.length) return x.length - y.length;
  return a === b ? 0 : a < b ? -1 : 1;
}
