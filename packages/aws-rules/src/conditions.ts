import type { GlobPattern } from './glob.js';
import { globMatch, plainPattern } from './glob.js';
import type { Resolution } from './policy-variables.js';
import { normalisePrincipal } from './principal.js';
import type { AuthzRequest } from './request.js';

/**
 * The Condition element of a statement, as IAM documents it
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html):
 * the condition keys this evaluator knows, the operators it implements, and where policy
 * variables may stand. What it does not understand answers `unknown`.
 */

type Json = unknown;

/** Whether a part of a statement applies: yes, no, or not understood. */
export type Match = 'yes' | 'no' | 'unknown';

const asList = (v: Json): Json[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);

/** How a statement's patterns read: resolved against the request when its policy uses variables. */
export type Resolve = (pattern: string) => Resolution;

/**
 * Condition keys that hold a set of values (the service authorization reference's `ArrayOfString`
 * type), which need a ForAllValues/ForAnyValue qualifier.
 */
const MULTI_VALUED: ReadonlySet<string> = new Set([
  'aws:tagkeys',
  'kms:grantoperations',
  'kms:encryptioncontextkeys',
  'kms:resourcealiases',
  // The sign-in methods of a Cognito identity (https://docs.aws.amazon.com/cognito/latest/developerguide/role-based-access-control.html).
  'cognito-identity.amazonaws.com:amr',
]);

/** The request's values for a condition key; undefined when the key is not one this evaluator knows. */
function requestValues(key: string, req: AuthzRequest): { values: string[]; multi: boolean } | undefined {
  const lower = key.toLowerCase();
  const ctx = req.encryptionContext ?? {};
  if (lower.startsWith('kms:encryptioncontext:')) {
    // IAM condition key names are not case-sensitive, the context key in them included.
    const name = key.slice('kms:encryptioncontext:'.length).toLowerCase();
    const values = Object.entries(ctx)
      .filter(([k]) => k.toLowerCase() === name)
      .map(([, v]) => v);
    return { values, multi: false };
  }
  if (lower === 'kms:encryptioncontextkeys') return { values: Object.keys(ctx), multi: true };
  if (lower === 'kms:grantisforawsresource')
    return { values: [String(req.grantIsForAWSResource === true)], multi: false };
  if (lower === 'kms:calleraccount')
    return { values: [/::(\d{12}):/.exec(req.principal)?.[1] ?? ''], multi: false };
  if (lower === 'aws:principalarn') return { values: [normalisePrincipal(req.principal)], multi: false };
  if (req.conditions) {
    for (const [name, values] of Object.entries(req.conditions)) {
      if (name.toLowerCase() === lower) return { values: [...values], multi: MULTI_VALUED.has(lower) };
    }
    // A family the request knows (`aws:ResourceTag/*`): a key of it not listed is absent.
    for (const name of Object.keys(req.conditions)) {
      const family = name.toLowerCase();
      if (family.endsWith('/*') && lower.startsWith(family.slice(0, -1))) return { values: [], multi: false };
    }
  }
  return undefined;
}

/** Patterns of a policy without variables (or of an element that takes none): as written. */
export const plainResolve: Resolve = (pattern) => plainPattern(pattern);

/**
 * A policy variable's value: the request's single value of the key; none when it has no value or
 * several (a multivalued key); `false` when the key is not one this evaluator knows.
 */
export function variableValue(key: string, req: AuthzRequest): string | undefined | false {
  const found = requestValues(key, req);
  if (!found) return false;
  return !found.multi && found.values.length === 1 ? found.values[0] : undefined;
}

/**
 * Numeric operators (IAM's condition operators reference): both sides must be decimal numbers;
 * a value or pattern that is not one matches nothing.
 */
const NUMBER = /^-?\d+(\.\d+)?$/;
const numeric =
  (test: (value: number, pattern: number) => boolean) =>
  ({ text: p }: GlobPattern, v: string): boolean =>
    NUMBER.test(p) && NUMBER.test(v) && test(Number(v), Number(p));
const COMPARATORS: Record<string, (pattern: GlobPattern, value: string) => boolean> = {
  stringequals: (p, v) => p.text === v,
  stringequalsignorecase: (p, v) => p.text.toLowerCase() === v.toLowerCase(),
  stringlike: (p, v) => globMatch(p, v),
  bool: (p, v) => p.text.toLowerCase() === v.toLowerCase(),
  // ARN operators: case-sensitive wildcards, as StringLike (IAM's condition operators reference).
  arnlike: (p, v) => globMatch(p, v),
  arnequals: (p, v) => globMatch(p, v),
  numericequals: numeric((v, p) => v === p),
  numericlessthan: numeric((v, p) => v < p),
  numericlessthanequals: numeric((v, p) => v <= p),
  numericgreaterthan: numeric((v, p) => v > p),
  numericgreaterthanequals: numeric((v, p) => v >= p),
};
const NEGATED: Record<string, string> = {
  numericnotequals: 'numericequals',
  stringnotequals: 'stringequals',
  stringnotequalsignorecase: 'stringequalsignorecase',
  stringnotlike: 'stringlike',
  arnnotlike: 'arnlike',
  arnnotequals: 'arnequals',
};
/**
 * The operators whose values may hold policy variables (IAM's condition operators reference:
 * string, Boolean and ARN operators; not numeric ones, nor Null).
 */
const WITH_VARIABLES: ReadonlySet<string> = new Set([
  'stringequals',
  'stringequalsignorecase',
  'stringlike',
  'bool',
  'arnlike',
  'arnequals',
]);

/** `Null`: "true" holds when the request has no value for the key, "false" when it has one. */
function nullHolds(block: Record<string, Json>, req: AuthzRequest): Match {
  let result: Match = 'yes';
  for (const [key, raw] of Object.entries(block)) {
    const found = requestValues(key, req);
    const expected = typeof raw === 'boolean' ? String(raw) : raw;
    if (!found || (expected !== 'true' && expected !== 'false')) return 'unknown';
    if ((found.values.length === 0) !== (expected === 'true')) result = 'no';
  }
  return result;
}

/** One condition operator block: set qualifiers, IfExists, negated string operators. */
export function conditionHolds(operator: string, block: Json, req: AuthzRequest, resolve: Resolve): Match {
  if (block === null || typeof block !== 'object' || Array.isArray(block)) return 'unknown';
  let qualifier: 'all' | 'any' | undefined;
  let op = operator.toLowerCase();
  if (op.startsWith('forallvalues:')) {
    qualifier = 'all';
    op = op.slice('forallvalues:'.length);
  } else if (op.startsWith('foranyvalue:')) {
    qualifier = 'any';
    op = op.slice('foranyvalue:'.length);
  }
  const ifExists = op.endsWith('ifexists');
  if (ifExists) op = op.slice(0, -'ifexists'.length);
  if (op === 'null') {
    if (qualifier !== undefined) return 'unknown';
    return nullHolds(block as Record<string, Json>, req);
  }
  const negated = Object.hasOwn(NEGATED, op);
  const name = negated ? (NEGATED[op] as string) : op;
  if (!Object.hasOwn(COMPARATORS, name)) return 'unknown';
  const compare = COMPARATORS[name] as (pattern: GlobPattern, value: string) => boolean;
  const read = WITH_VARIABLES.has(name) ? resolve : plainResolve;
  let result: Match = 'yes';
  for (const [key, raw] of Object.entries(block as Record<string, Json>)) {
    const found = requestValues(key, req);
    if (!found) return 'unknown';
    const patterns = asList(raw).map((v) =>
      typeof v === 'boolean' || typeof v === 'number' ? String(v) : v,
    );
    if (patterns.length === 0 || patterns.some((p) => typeof p !== 'string')) return 'unknown';
    const resolved = (patterns as string[]).map(read);
    if (resolved.includes('unknown')) return 'unknown';
    const list = resolved.filter((r): r is GlobPattern => typeof r !== 'string');
    // A variable with no value has no equal or like value: a positive operator's pattern holding
    // one matches nothing; a negated operator's condition does not match at all.
    const unresolved = list.length < resolved.length;
    const matchesOne = (value: string) =>
      negated ? !unresolved && !list.some((p) => compare(p, value)) : list.some((p) => compare(p, value));
    let holds: boolean;
    if (found.multi) {
      // A multi-valued key needs a set qualifier; without one the condition is not understood.
      if (qualifier === undefined) return 'unknown';
      holds = qualifier === 'all' ? found.values.every(matchesOne) : found.values.some(matchesOne);
    } else {
      if (qualifier !== undefined) return 'unknown';
      // Two context keys differing only in case: which one the condition means is not known.
      if (found.values.length > 1) return 'unknown';
      const value = found.values[0];
      // A missing key satisfies IfExists and the negated operators (whose values must then resolve
      // too), and nothing else.
      holds = value === undefined ? ifExists || (negated && !unresolved) : matchesOne(value);
    }
    if (!holds) result = 'no';
  }
  return result;
}
