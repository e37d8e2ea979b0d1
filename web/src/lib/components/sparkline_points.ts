/**
 * SVG polyline points for `n` values spread over `width` × `height`, scaled
 * to their own min..max, but never to less than `minSpan` (a flat line sits in the middle). One decimal is
 * plenty at this size and keeps the attribute short. Pure.
 */
export function sparklinePoints(
  values: ArrayLike<number>,
  n: number,
  width: number,
  height: number,
  o: { minSpan?: number } = {},
): string {
  if (n < 2) return "";
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < n; i++) {
    min = Math.min(min, values[i]);
    max = Math.max(max, values[i]);
  }
  // A span under `minSpan` is drawn about its middle at that span: rounding
  // noise of a step or two stays a ripple, not a full-height square wave.
  const minSpan = o.minSpan ?? 0;
  if (max - min < minSpan) {
    const mid = (max + min) / 2;
    min = mid - minSpan / 2;
    max = mid + minSpan / 2;
  }
  const span = max - min;
  const step = width / (n - 1);
  const pad = 1; // keep the stroke inside the box
  const inner = height - 2 * pad;
  let points = "";
  for (let i = 0; i < n; i++) {
    const y = span === 0 ? height / 2 : pad + inner - ((values[i] - min) / span) * inner;
    points += `${i ? " " : ""}${(i * step).toFixed(1)},${y.toFixed(1)}`;
  }
  return points;
}

/**
 * An SVG path for the same line, broken before each value marked in
 * `breaks` (it follows a silence) and around NaN values: nothing is drawn
 * across a gap in the data. NaN values count neither for the scale.
 */
export function sparklinePath(
  values: ArrayLike<number>,
  n: number,
  width: number,
  height: number,
  o: { minSpan?: number; breaks?: ArrayLike<number> } = {},
): string {
  if (n < 2) return "";
  const breaks = o.breaks;
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v !== v) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min === Infinity) return "";
  const minSpan = o.minSpan ?? 0;
  if (max - min < minSpan) {
    const mid = (max + min) / 2;
    min = mid - minSpan / 2;
    max = mid + minSpan / 2;
  }
  const span = max - min;
  const step = width / (n - 1);
  const pad = 1;
  const inner = height - 2 * pad;
  let d = "";
  let pen = false;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v !== v) {
      pen = false;
      continue;
    }
    if (breaks && breaks[i] === 1) pen = false;
    const y = span === 0 ? height / 2 : pad + inner - ((v - min) / span) * inner;
    d += `${pen ? "L" : d ? " M" : "M"}${(i * step).toFixed(1)},${y.toFixed(1)}`;
    pen = true;
  }
  return d;
}
