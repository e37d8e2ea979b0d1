// The order in which sensor ids and group paths are listed: numeric-aware
// ("sensor-2" before "sensor-10") and case-insensitive, then exact.
//
// Why a key and not Intl.Collator: a collator compares in about 1 µs here,
// so placing 1,000 new sensors among 100,000 (17,000 comparisons) would cost
// a tick's whole budget. The key is built once per name and then compared as
// plain UTF-16 strings, about 20 ns a comparison.

/**
 * A string whose UTF-16 order is the listing order of `name`: lower case,
 * and every run of ASCII digits replaced by "0", a character telling how many
 * digits it has without leading zeros, and those digits. So a longer number
 * sorts after a shorter one, numbers of equal length compare digit by digit,
 * and a number sits where "0" sits among other characters. Names with equal
 * keys ("a007" and "A7") are ordered by `compareNames`. Written as one scan
 * (a regex replace with a callback took 5× as long: a restart keys 100,000 ids).
 */
export function naturalKey(name: string): string {
  const lower = name.toLowerCase();
  const n = lower.length;
  let out = "";
  let from = 0; // the text before the next digit run, not yet copied
  let i = 0;
  while (i < n) {
    if (!isDigit(lower.charCodeAt(i))) {
      i++;
      continue;
    }
    let end = i + 1;
    while (end < n && isDigit(lower.charCodeAt(end))) end++;
    let start = i;
    while (start < end - 1 && lower.charCodeAt(start) === 48) start++;
    out += lower.slice(from, i) + "0" + String.fromCharCode(0x30 + end - start) +
      lower.slice(start, end);
    from = i = end;
  }
  return from === 0 ? lower : out + lower.slice(from);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Total order of names: by `naturalKey`, then by UTF-16 code units. */
export function compareNames(keyA: string, nameA: string, keyB: string, nameB: string): number {
  if (keyA !== keyB) return keyA < keyB ? -1 : 1;
  if (nameA === nameB) return 0;
  return nameA < nameB ? -1 : 1;
}
