/**
 * IAM's wildcard match: `*` any run of characters, `?` exactly one
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html).
 * A pattern resolved from policy variables (`policy-variables.ts`) may hold `*` and `?` that are
 * literal characters (`${*}`, `${?}`, a substituted value): its `wild` positions say which are
 * wildcards.
 */

/** Longest pattern a condition or statement may use; longer ones match nothing. */
export const MAX_PATTERN = 1024;

/** A pattern whose wildcards are known by position: `text[i]` is a wildcard iff `wild.has(i)`. */
export interface GlobPattern {
  text: string;
  wild: ReadonlySet<number>;
}

/** A pattern written in a policy without variables: every `*` and `?` is a wildcard. */
export function plainPattern(text: string): GlobPattern {
  const wild = new Set<number>();
  for (let i = 0; i < text.length; i++) if (text[i] === '*' || text[i] === '?') wild.add(i);
  return { text, wild };
}

/**
 * Glob match as IAM does; case-insensitive when asked. Linear backtracking to the last `*` only,
 * so a caller-chosen value cannot make it take long.
 */
export function globMatch(pattern: string | GlobPattern, value: string, ignoreCase = false): boolean {
  const pat = typeof pattern === 'string' ? plainPattern(pattern) : pattern;
  if (pat.text.length > MAX_PATTERN) return false;
  const p = ignoreCase ? pat.text.toLowerCase() : pat.text;
  const v = ignoreCase ? value.toLowerCase() : value;
  const anyRun = (i: number) => p[i] === '*' && pat.wild.has(i);
  let pi = 0;
  let vi = 0;
  let star = -1;
  let mark = 0;
  while (vi < v.length) {
    // A `*` in the pattern is a wildcard even where the value has a `*` too.
    if (pi < p.length && anyRun(pi)) {
      star = pi++;
      mark = vi;
    } else if (pi < p.length && ((p[pi] === '?' && pat.wild.has(pi)) || p[pi] === v[vi])) {
      pi++;
      vi++;
    } else if (star >= 0) {
      pi = star + 1;
      vi = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.length && anyRun(pi)) pi++;
  return pi === p.length;
}
