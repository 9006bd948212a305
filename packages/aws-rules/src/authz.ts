import { type GrantLike, grantAllows } from './grants.js';
import { accountOf, normalisePrincipal, principalNames } from './principal.js';
import type { AuthzRequest } from './request.js';

/**
 * Authorization of a KMS request against a key policy and grants, as AWS KMS documents it:
 * an explicit Deny wins, then an Allow from a policy statement, then a grant; otherwise the
 * request is denied. What the evaluator does not understand (an unknown condition operator or
 * key, NotPrincipal/NotAction/NotResource, a non-AWS principal type, a statement without
 * Resource) never allows: in an Allow it matches nothing, in a Deny it denies.
 */

export type Decision =
  | { allowed: false; reason: 'explicit-deny'; statement: StatementRef }
  | { allowed: true; reason: 'key-policy'; statement: StatementRef }
  | { allowed: true; reason: 'grant'; grantId: string }
  | { allowed: false; reason: 'implicit-deny' }
  /**
   * The service's own refusal, never KMS's: a principal that may manage the key asked to use it
   * (a policy or grant written straight in KMS can allow both; the API still keeps them apart).
   */
  | { allowed: false; reason: 'separation-of-duties' };

export interface StatementRef {
  index: number;
  sid?: string | undefined;
}

type Json = unknown;

const asList = (v: Json): Json[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);

/** Longest pattern a condition or statement may use; longer ones match nothing. */
const MAX_PATTERN = 1024;

/**
 * Glob match as IAM does: `*` any run, `?` one character; case-insensitive when asked. Linear
 * backtracking to the last `*` only, so a caller-chosen value cannot make it take long.
 */
export function globMatch(pattern: string, value: string, ignoreCase = false): boolean {
  if (pattern.length > MAX_PATTERN) return false;
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  const v = ignoreCase ? value.toLowerCase() : value;
  let pi = 0;
  let vi = 0;
  let star = -1;
  let mark = 0;
  while (vi < v.length) {
    // A `*` in the pattern is a wildcard even where the value has a `*` too.
    if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = vi;
    } else if (pi < p.length && (p[pi] === '?' || p[pi] === v[vi])) {
      pi++;
      vi++;
    } else if (star >= 0) {
      pi = star + 1;
      vi = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

/** Whether a part of a statement applies: yes, no, or not understood. */
type Match = 'yes' | 'no' | 'unknown';

const all = (...parts: Match[]): Match =>
  parts.includes('no') ? 'no' : parts.includes('unknown') ? 'unknown' : 'yes';

/** Does the statement's Principal name the caller? Only AWS principals are understood. */
function principalMatches(principal: Json, req: AuthzRequest, effect: 'Allow' | 'Deny'): Match {
  if (principal === '*') return 'yes';
  if (principal === null || typeof principal !== 'object' || Array.isArray(principal)) return 'unknown';
  const entries = Object.entries(principal as Record<string, Json>);
  const aws = entries.find(([k]) => k === 'AWS')?.[1];
  // Service, Federated and CanonicalUser principals are not understood here.
  if (aws === undefined || entries.length > 1) return 'unknown';
  const names = principalNames(req.principal);
  let result: Match = 'no';
  for (const p of asList(aws)) {
    if (typeof p !== 'string') {
      result = 'unknown';
      continue;
    }
    if (p === '*') return 'yes';
    const account = /^\d{12}$/.test(p) ? p : /^arn:aws[a-z-]*:iam::(\d{12}):root$/.exec(p)?.[1];
    if (account !== undefined) {
      const inAccount = names.some((n) => accountOf(n) === account);
      // A Deny naming an account applies to everyone in it. An Allow delegates to that account's
      // IAM policies: the key's own account through iamAllows, another account never here.
      if (
        inAccount &&
        (effect === 'Deny' || (account === req.keyAccountId && req.iamAllows?.(req.action) === true))
      )
        return 'yes';
      continue;
    }
    if (names.includes(p)) return 'yes';
  }
  return result;
}

function patternsMatch(patterns: Json, value: string, ignoreCase: boolean): Match {
  const list = asList(patterns);
  if (list.length === 0) return 'unknown';
  if (list.some((p) => typeof p === 'string' && globMatch(p, value, ignoreCase))) return 'yes';
  return list.every((p) => typeof p === 'string') ? 'no' : 'unknown';
}

/**
 * Condition keys that hold a set of values (the service authorization reference's `ArrayOfString`
 * type), which need a ForAllValues/ForAnyValue qualifier.
 */
const MULTI_VALUED: ReadonlySet<string> = new Set([
  'aws:tagkeys',
  'kms:grantoperations',
  'kms:encryptioncontextkeys',
  'kms:resourcealiases',
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

/**
 * Numeric operators (IAM's condition operators reference): both sides must be decimal numbers;
 * a value or pattern that is not one matches nothing.
 */
const NUMBER = /^-?\d+(\.\d+)?$/;
const numeric =
  (test: (value: number, pattern: number) => boolean) =>
  (p: string, v: string): boolean =>
    NUMBER.test(p) && NUMBER.test(v) && test(Number(v), Number(p));
const COMPARATORS: Record<string, (pattern: string, value: string) => boolean> = {
  stringequals: (p, v) => p === v,
  stringequalsignorecase: (p, v) => p.toLowerCase() === v.toLowerCase(),
  stringlike: (p, v) => globMatch(p, v),
  bool: (p, v) => p.toLowerCase() === v.toLowerCase(),
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
function conditionHolds(operator: string, block: Json, req: AuthzRequest): Match {
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
  const compare = COMPARATORS[name] as (pattern: string, value: string) => boolean;
  let result: Match = 'yes';
  for (const [key, raw] of Object.entries(block as Record<string, Json>)) {
    const found = requestValues(key, req);
    if (!found) return 'unknown';
    const patterns = asList(raw).map((v) =>
      typeof v === 'boolean' || typeof v === 'number' ? String(v) : v,
    );
    if (patterns.length === 0 || patterns.some((p) => typeof p !== 'string')) return 'unknown';
    const list = patterns as string[];
    const matchesOne = (value: string) =>
      negated ? !list.some((p) => compare(p, value)) : list.some((p) => compare(p, value));
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
      // A missing key satisfies IfExists and the negated operators, and nothing else.
      holds = value === undefined ? ifExists || negated : matchesOne(value);
    }
    if (!holds) result = 'no';
  }
  return result;
}

function statementMatches(st: Record<string, Json>, req: AuthzRequest, identity = false): Match {
  if ('NotPrincipal' in st || 'NotAction' in st || 'NotResource' in st) return 'unknown';
  if (!('Resource' in st)) return 'unknown';
  const parts: Match[] = [
    // An identity-based policy applies to the identity it is attached to and names no Principal.
    identity
      ? 'Principal' in st
        ? 'unknown'
        : 'yes'
      : principalMatches(st.Principal, req, st.Effect === 'Deny' ? 'Deny' : 'Allow'),
    patternsMatch(st.Action, req.action, true),
    patternsMatch(st.Resource, req.keyArn, false),
  ];
  const conditions = st.Condition;
  if (conditions !== undefined) {
    if (conditions === null || typeof conditions !== 'object' || Array.isArray(conditions))
      parts.push('unknown');
    else
      for (const [op, block] of Object.entries(conditions as Record<string, Json>))
        parts.push(conditionHolds(op, block, req));
  }
  return all(...parts);
}

export type PolicyVerdict =
  | { effect: 'deny'; statement: StatementRef }
  | { effect: 'allow'; statement: StatementRef }
  | { effect: 'none' };

/** One policy document's verdict: a matching Deny, else a matching Allow, else nothing. */
function evaluatePolicy(policy: Json, req: AuthzRequest, identity: boolean): PolicyVerdict {
  const statements =
    policy !== null && typeof policy === 'object' && !Array.isArray(policy)
      ? asList((policy as Record<string, Json>).Statement)
      : [];
  let allow: StatementRef | undefined;
  for (const [index, raw] of statements.entries()) {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) continue;
    const st = raw as Record<string, Json>;
    if (st.Effect !== 'Allow' && st.Effect !== 'Deny') continue;
    const match = statementMatches(st, req, identity);
    const ref: StatementRef = { index, ...(typeof st.Sid === 'string' ? { sid: st.Sid } : {}) };
    // Precondition: a Deny the evaluator cannot fully understand is applied (fails closed);
    // an Allow applies only when every part of it is understood and matches.
    if (st.Effect === 'Deny' && match !== 'no') return { effect: 'deny', statement: ref };
    if (st.Effect === 'Allow' && match === 'yes') allow ??= ref;
  }
  return allow ? { effect: 'allow', statement: allow } : { effect: 'none' };
}

/**
 * What identity-based (IAM) policies say of a request: `deny` when a statement denies it,
 * `allow` when one allows it, `none` otherwise. The request's `keyArn` is the resource.
 */
export function identityVerdict(policies: readonly Json[], req: AuthzRequest): 'allow' | 'deny' | 'none' {
  let verdict: 'allow' | 'none' = 'none';
  for (const policy of policies) {
    const v = evaluatePolicy(policy, req, true);
    if (v.effect === 'deny') return 'deny';
    if (v.effect === 'allow') verdict = 'allow';
  }
  return verdict;
}

/**
 * What a resource-based policy (an S3 bucket policy, a key policy without its grants) says of a
 * request: a matching Deny, else a matching Allow naming the caller in its Principal, else
 * nothing. An Allow naming the resource's own account delegates to the caller's IAM policies
 * (`iamAllows`), as for key policies. The request's `keyArn` is the resource's ARN and
 * `keyAccountId` the account that owns it.
 */
export function resourcePolicyVerdict(policy: Json, req: AuthzRequest): PolicyVerdict {
  return evaluatePolicy(policy, req, false);
}

/** Decides a request against a key policy document (parsed JSON) and the grants on the key. */
export function authorize(policy: Json, grants: readonly GrantLike[], req: AuthzRequest): Decision {
  const verdict = evaluatePolicy(policy, req, false);
  if (verdict.effect === 'deny')
    return { allowed: false, reason: 'explicit-deny', statement: verdict.statement };
  if (verdict.effect === 'allow')
    return { allowed: true, reason: 'key-policy', statement: verdict.statement };
  const grant = grants.find((g) => grantAllows(g, req));
  if (grant) return { allowed: true, reason: 'grant', grantId: grant.grantId };
  return { allowed: false, reason: 'implicit-deny' };
}

/** A decision in words, for audit records and whoami. */
export function describeDecision(d: Decision): string {
  switch (d.reason) {
    case 'explicit-deny':
      return `denied by key policy statement ${d.statement.sid ?? `#${d.statement.index}`}`;
    case 'key-policy':
      return `allowed by key policy statement ${d.statement.sid ?? `#${d.statement.index}`}`;
    case 'grant':
      return `allowed by grant ${d.grantId}`;
    case 'separation-of-duties':
      return 'the caller may manage the key, and administrators never use their keys (separation of duties)';
    default:
      return 'no key policy statement or grant allows it';
  }
}
