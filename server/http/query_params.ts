/**
 * The query of `url`, refusing a parameter named twice: `?limit=5&limit=500`
 * is ambiguous, and honouring one of the two silently hides a client's bug.
 * Throws RangeError (answered 400) naming the parameter.
 */
export function singleValuedQuery(url: string): URLSearchParams {
  const params = new URL(url).searchParams;
  const seen = new Set<string>();
  for (const name of params.keys()) {
    if (seen.has(name)) {
      throw new RangeError(`Query parameter ${name.slice(0, 40)} is given more than once`);
    }
    seen.add(name);
  }
  return params;
}
