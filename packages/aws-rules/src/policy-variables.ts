import { type GlobPattern, plainPattern } from './glob.js';

/**
 * IAM policy variables (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html):
 * in a policy of `Version: 2012-10-17`, `${key}` in a Resource or a condition value stands for the
 * request's value of the condition key `key` (names are not case-sensitive), `${key, 'default'}`
 * for that value or, when the request has none, the default (case-sensitive, `''` for a quote;
 * spaces around the name and the default are ignored). `${*}`, `${?}` and `${$}` are the
 * characters `*`, `?` and `$` themselves, never wildcards. One round only: what a value or default
 * holds is text, never read again as a variable or a wildcard. In a `2008-10-17` policy (and one
 * with no Version) `${...}` is literal text
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html).
 */

/**
 * The request's single value of a condition key; undefined when it has none, or several (a
 * multivalued key is never a variable's value); `false` when the key is not one the evaluator
 * knows (it cannot say whether the request has a value).
 */
export type VariableLookup = (key: string) => string | undefined | false;

/**
 * What a pattern becomes: a pattern to match; `unresolved` when a variable has no value in the
 * request and no default ("the entire statement may be invalid": it matches nothing); `unknown`
 * when a `${` is not a variable as the docs write them, or names a key the evaluator does not know.
 */
export type Resolution = GlobPattern | 'unresolved' | 'unknown';

const LITERAL: Readonly<Record<string, string>> = { '*': '*', '?': '?', $: '$' };

/** Whether a policy document uses policy variables (its Version is 2012-10-17). */
export function usesVariables(policy: unknown): boolean {
  return (
    policy !== null &&
    typeof policy === 'object' &&
    (policy as { Version?: unknown }).Version === '2012-10-17'
  );
}

/** Resolves the variables of one pattern against the request. */
export function resolvePattern(pattern: string, lookup: VariableLookup): Resolution {
  if (!pattern.includes('${')) return plainPattern(pattern);
  let text = '';
  const wild = new Set<number>();
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i] as string;
    if (c !== '$' || pattern[i + 1] !== '{') {
      if (c === '*' || c === '?') wild.add(text.length);
      text += c;
      i++;
      continue;
    }
    const parsed = parseVariable(pattern, i + 2);
    if (parsed === undefined) return 'unknown';
    i = parsed.end;
    const literal = LITERAL[parsed.name];
    if (literal !== undefined && parsed.fallback === undefined) {
      text += literal;
      continue;
    }
    const found = lookup(parsed.name);
    if (found === false) return 'unknown';
    const value = found ?? parsed.fallback;
    if (value === undefined) return 'unresolved';
    text += value;
  }
  return { text, wild };
}

/**
 * One `${name}` or `${name, 'default'}` whose body starts at `from`: its name (trimmed), its
 * default, and the index after its `}`; undefined when it is not well formed.
 */
function parseVariable(
  s: string,
  from: number,
): { name: string; fallback: string | undefined; end: number } | undefined {
  let i = from;
  while (i < s.length && s[i] !== ',' && s[i] !== '}') i++;
  if (i >= s.length) return undefined;
  const name = s.slice(from, i).trim();
  if (name === '' || /[\s{$']/.test(name.replace(/^[*?$]$/, ''))) return undefined;
  if (s[i] === '}') return { name, fallback: undefined, end: i + 1 };
  i++;
  while (s[i] === ' ') i++;
  if (s[i] !== "'") return undefined;
  i++;
  let fallback = '';
  for (;;) {
    if (i >= s.length) return undefined;
    if (s[i] === "'") {
      if (s[i + 1] === "'") {
        fallback += "'";
        i += 2;
        continue;
      }
      i++;
      break;
    }
    fallback += s[i];
    i++;
  }
  while (s[i] === ' ') i++;
  if (s[i] !== '}') return undefined;
  return { name, fallback, end: i + 1 };
}
