import { conditionHolds, type Match, plainResolve, type Resolve, variableValue } from './conditions.js';
import { globMatch } from './glob.js';
import { type GrantLike, grantAllows } from './grants.js';
import { resolvePattern, usesVariables } from './policy-variables.js';
import { accountOf, principalNames } from './principal.js';
import type { AuthzRequest } from './request.js';

/**
 * Authorization of a KMS request against a key policy and grants, as AWS KMS documents it:
 * an explicit Deny wins, then an Allow from a policy statement, then a grant; otherwise the
 * request is denied. What the evaluator does not understand (an unknown condition operator or
 * key, NotPrincipal/NotAction/NotResource, a non-AWS principal type, a statement without
 * Resource) never allows: in an Allow it matches nothing, in a Deny it denies. Policy variables
 * (`policy-variables.ts`) are resolved in Resource and in condition values of 2012-10-17 policies.
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

function patternsMatch(patterns: Json, value: string, ignoreCase: boolean, resolve: Resolve): Match {
  const list = asList(patterns);
  if (list.length === 0) return 'unknown';
  let result: Match = 'no';
  for (const p of list) {
    const r = typeof p === 'string' ? resolve(p) : 'unknown';
    // A pattern whose variable has no value matches no resource.
    if (r === 'unresolved') continue;
    if (r === 'unknown') result = 'unknown';
    else if (globMatch(r, value, ignoreCase)) return 'yes';
  }
  return result;
}

function statementMatches(
  st: Record<string, Json>,
  req: AuthzRequest,
  identity: boolean,
  resolve: Resolve,
): Match {
  if ('NotPrincipal' in st || 'NotAction' in st || 'NotResource' in st) return 'unknown';
  if (!('Resource' in st)) return 'unknown';
  const parts: Match[] = [
    // An identity-based policy applies to the identity it is attached to and names no Principal.
    identity
      ? 'Principal' in st
        ? 'unknown'
        : 'yes'
      : principalMatches(st.Principal, req, st.Effect === 'Deny' ? 'Deny' : 'Allow'),
    patternsMatch(st.Action, req.action, true, plainResolve),
    patternsMatch(st.Resource, req.keyArn, false, resolve),
  ];
  const conditions = st.Condition;
  if (conditions !== undefined) {
    if (conditions === null || typeof conditions !== 'object' || Array.isArray(conditions))
      parts.push('unknown');
    else
      for (const [op, block] of Object.entries(conditions as Record<string, Json>))
        parts.push(conditionHolds(op, block, req, resolve));
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
  const resolve: Resolve = usesVariables(policy)
    ? (pattern) => resolvePattern(pattern, (key) => variableValue(key, req))
    : plainResolve;
  let allow: StatementRef | undefined;
  for (const [index, raw] of statements.entries()) {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) continue;
    const st = raw as Record<string, Json>;
    if (st.Effect !== 'Allow' && st.Effect !== 'Deny') continue;
    const match = statementMatches(st, req, identity, resolve);
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
