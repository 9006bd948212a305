import type { EncryptionContext } from './context.js';
import { normalisePrincipal } from './principal.js';

/**
 * Authorization of a KMS request against a key policy and grants, as AWS KMS documents it:
 * an explicit Deny wins, then an Allow from a policy statement, then a grant; otherwise the
 * request is denied. Whatever the evaluator does not understand (an unknown condition operator
 * or key, NotPrincipal/NotAction/NotResource, a non-AWS principal type) matches nothing, so it
 * can never allow by accident.
 */

export interface AuthzRequest {
  /** The caller, as authenticated; assumed-role sessions are normalised to their role. */
  principal: string;
  /** The KMS action, e.g. `kms:Encrypt`. */
  action: string;
  /** ARN of the key acted on. */
  keyArn: string;
  /** The account that owns the key. */
  keyAccountId: string;
  encryptionContext?: EncryptionContext | undefined;
  grantIsForAWSResource?: boolean | undefined;
  /**
   * What the caller's identity-based (IAM) policies allow, consulted only where the key policy
   * delegates to the account ("the account root: IAM decides"). Absent: IAM allows nothing.
   */
  iamAllows?: ((action: string) => boolean) | undefined;
}

export interface GrantLike {
  grantId: string;
  granteePrincipal: string;
  operations: readonly string[];
  constraints?:
    | {
        EncryptionContextSubset?: Readonly<Record<string, string>> | undefined;
        EncryptionContextEquals?: Readonly<Record<string, string>> | undefined;
      }
    | undefined;
}

export type Decision =
  | { allowed: false; reason: 'explicit-deny'; statement: StatementRef }
  | { allowed: true; reason: 'key-policy'; statement: StatementRef }
  | { allowed: true; reason: 'grant'; grantId: string }
  | { allowed: false; reason: 'implicit-deny' };

export interface StatementRef {
  index: number;
  sid?: string | undefined;
}

type Json = unknown;

const asList = (v: Json): Json[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);

/** Glob match as IAM does: `*` any run, `?` one character; case-insensitive when asked. */
export function globMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, ignoreCase ? 'is' : 's').test(value);
}

/** Does the statement's Principal name the caller? A principal it cannot understand names no one. */
function principalMatches(principal: Json, req: AuthzRequest): boolean {
  if (principal === '*') return true;
  if (principal === null || typeof principal !== 'object' || Array.isArray(principal)) return false;
  const entries = Object.entries(principal as Record<string, Json>);
  // Only AWS principals are understood; Service, Federated and CanonicalUser match nothing here.
  const aws = entries.find(([k]) => k === 'AWS')?.[1];
  if (aws === undefined) return false;
  const caller = normalisePrincipal(req.principal);
  for (const p of asList(aws)) {
    if (typeof p !== 'string') continue;
    if (p === '*') return true;
    if (p === req.keyAccountId || p === `arn:aws:iam::${req.keyAccountId}:root`) {
      // The account root: the key policy delegates to IAM.
      if (req.iamAllows?.(req.action) === true && caller.includes(`::${req.keyAccountId}:`)) return true;
      continue;
    }
    if (normalisePrincipal(p) === caller) return true;
  }
  return false;
}

function actionMatches(action: Json, wanted: string): boolean {
  return asList(action).some((a) => typeof a === 'string' && globMatch(a, wanted, true));
}

function resourceMatches(resource: Json, keyArn: string): boolean {
  return asList(resource).some((r) => typeof r === 'string' && globMatch(r, keyArn));
}

/** The request's values for a condition key; undefined when the key is not one this evaluator knows. */
function requestValues(key: string, req: AuthzRequest): { values: string[]; multi: boolean } | undefined {
  const lower = key.toLowerCase();
  const ctx = req.encryptionContext ?? {};
  if (lower.startsWith('kms:encryptioncontext:')) {
    const name = key.slice('kms:encryptioncontext:'.length);
    const value = ctx[name];
    return { values: value === undefined ? [] : [value], multi: false };
  }
  if (lower === 'kms:encryptioncontextkeys') return { values: Object.keys(ctx), multi: true };
  if (lower === 'kms:grantisforawsresource')
    return { values: [String(req.grantIsForAWSResource === true)], multi: false };
  if (lower === 'kms:calleraccount')
    return { values: [/::(\d{12}):/.exec(req.principal)?.[1] ?? ''], multi: false };
  if (lower === 'aws:principalarn') return { values: [normalisePrincipal(req.principal)], multi: false };
  return undefined;
}

const COMPARATORS: Record<string, (pattern: string, value: string) => boolean> = {
  stringequals: (p, v) => p === v,
  stringequalsignorecase: (p, v) => p.toLowerCase() === v.toLowerCase(),
  stringlike: (p, v) => globMatch(p, v),
  bool: (p, v) => p.toLowerCase() === v.toLowerCase(),
};

/** One condition operator block; false whenever something is not understood. */
function conditionHolds(operator: string, block: Json, req: AuthzRequest): boolean {
  if (block === null || typeof block !== 'object' || Array.isArray(block)) return false;
  let qualifier: 'all' | 'any' | undefined;
  let op = operator.toLowerCase();
  if (op.startsWith('forallvalues:')) {
    qualifier = 'all';
    op = op.slice('forallvalues:'.length);
  } else if (op.startsWith('foranyvalue:')) {
    qualifier = 'any';
    op = op.slice('foranyvalue:'.length);
  }
  const compare = COMPARATORS[op];
  if (!compare) return false;
  for (const [key, raw] of Object.entries(block as Record<string, Json>)) {
    const found = requestValues(key, req);
    if (!found) return false;
    const patterns = asList(raw).map((v) => (typeof v === 'boolean' ? String(v) : v));
    if (patterns.some((p) => typeof p !== 'string')) return false;
    const list = patterns as string[];
    const matchesOne = (value: string) => list.some((p) => compare(p, value));
    if (found.multi) {
      // A multi-valued key needs a set qualifier; without one the condition is not understood.
      if (qualifier === 'all' && !found.values.every(matchesOne)) return false;
      if (qualifier === 'any' && !found.values.some(matchesOne)) return false;
      if (qualifier === undefined) return false;
    } else {
      if (qualifier !== undefined) return false;
      const value = found.values[0];
      if (value === undefined || !matchesOne(value)) return false;
    }
  }
  return true;
}

function statementMatches(st: Record<string, Json>, req: AuthzRequest): boolean {
  if ('NotPrincipal' in st || 'NotAction' in st || 'NotResource' in st) return false;
  if (!principalMatches(st.Principal, req)) return false;
  if (!actionMatches(st.Action, req.action)) return false;
  if (!resourceMatches(st.Resource ?? '*', req.keyArn)) return false;
  const conditions = st.Condition;
  if (conditions === undefined) return true;
  if (conditions === null || typeof conditions !== 'object' || Array.isArray(conditions)) return false;
  return Object.entries(conditions as Record<string, Json>).every(([op, block]) =>
    conditionHolds(op, block, req),
  );
}

/** Does a grant allow the request? Its grantee, operation and context constraint must all fit. */
export function grantAllows(grant: GrantLike, req: AuthzRequest): boolean {
  if (normalisePrincipal(grant.granteePrincipal) !== normalisePrincipal(req.principal)) return false;
  const operation = req.action.replace(/^kms:/i, '');
  if (!grant.operations.includes(operation)) return false;
  const ctx = req.encryptionContext ?? {};
  const subset = grant.constraints?.EncryptionContextSubset;
  if (subset && !Object.entries(subset).every(([k, v]) => ctx[k] === v)) return false;
  const equals = grant.constraints?.EncryptionContextEquals;
  if (equals) {
    const a = Object.entries(equals);
    if (a.length !== Object.keys(ctx).length || !a.every(([k, v]) => ctx[k] === v)) return false;
  }
  return true;
}

/** Decides a request against a key policy document (parsed JSON) and the grants on the key. */
export function authorize(policy: Json, grants: readonly GrantLike[], req: AuthzRequest): Decision {
  const statements =
    policy !== null && typeof policy === 'object' && !Array.isArray(policy)
      ? asList((policy as Record<string, Json>).Statement)
      : [];
  let allow: StatementRef | undefined;
  for (const [index, raw] of statements.entries()) {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) continue;
    const st = raw as Record<string, Json>;
    if (st.Effect !== 'Allow' && st.Effect !== 'Deny') continue;
    if (!statementMatches(st, req)) continue;
    const ref: StatementRef = { index, ...(typeof st.Sid === 'string' ? { sid: st.Sid } : {}) };
    if (st.Effect === 'Deny') return { allowed: false, reason: 'explicit-deny', statement: ref };
    allow ??= ref;
  }
  if (allow) return { allowed: true, reason: 'key-policy', statement: allow };
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
    default:
      return 'no key policy statement or grant allows it';
  }
}
