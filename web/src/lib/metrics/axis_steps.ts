// The steps a chart's value axis may put between its ticks.

/**
 * Multiples of the metric's precision (1, 2 and 5 times its powers of ten):
 * labels are rounded to the precision, so a finer step (0.05 at 0.1) printed
 * the same label twice ("40.1", "40.1") on a flat line's narrow axis.
 */
export function axisSteps(precision: number): number[] {
  const steps: number[] = [];
  // Up to 10^19: past what a metric's values (finite doubles shown by the chart) span in practice.
  for (let power = 1; precision * power <= 1e19; power *= 10) {
    for (const factor of [1, 2, 5]) steps.push(precision * factor * power);
  }
  return steps;
}
