import { accountOf, globMatch, normalisePrincipal } from '@eaas/aws-rules';

/**
 * How a key policy treats one principal, read soundly for any encryption context: the reading
 * that `separation-of-duties.ts` asks, principal by principal, who could manage and use a key.
 *
 * - An Allow counts when it could apply: a condition on the encryption context, or one this
 *   module does not understand (KMS may), counts as satisfiable; the Resource is ignored.
 * - A Deny counts only when it applies whatever the context: same principal, an action it
 *   certainly names, this key, and conditions that certainly hold (on the principal only).
 *
 * Principals are checked through witnesses: every principal the document or the grants name,
 * and one principal named nowhere for each account involved (and one of an account named
 * nowhere), which stands for every principal no statement names. A condition on the caller's
 * ARN or account that the witness cannot answer for all those it stands for (a pattern, a case-
 * insensitive match) counts as satisfiable in an Allow and as not holding in a Deny.
 */

type Json = unknown;
type Tri = 'yes' | 'no' | 'maybe';

/** A principal the policy is asked about, or one that stands for a class of principals. */
export interface Witness {
  arn: string;
  /** Stands for every principal of its account that no statement names. */
  unnamed: boolean;
  /** Its account is one that no statement names (so it stands for every such account). */
  unnamedAccount: boolean;
}

const asList = (v: Json): Json[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);
const isObject = (v: Json): v is Record<string, Json> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);
const ROOT = /^arn:aws[a-z-]*:iam::(\d{12}):root$/;
/** The account a principal names as a whole (`123456789012` or its root ARN), if it does. */
export const accountPrincipal = (p: string): string | undefined =>
  /^\d{12}$/.test(p) ? p : ROOT.exec(p)?.[1];
/** The names a caller goes by in a policy: its ARN and, for a role session, the role's. */
export const namesOf = (arn: string): string[] => [...new Set([arn, normalisePrincipal(arn)])];
const callerAccount = (arn: string): string => /::(\d{12}):/.exec(arn)?.[1] ?? '';

/** Keys whose value is the caller itself, not the request: a witness can answer them. */
const PRINCIPAL_KEYS: ReadonlySet<string> = new Set(['aws:principalarn', 'kms:calleraccount']);

const and = (parts: Tri[]): Tri =>
  parts.includes('no') ? 'no' : parts.every((p) => p === 'yes') ? 'yes' : 'maybe';

/** One condition key under one operator, for a witness. */
function conditionFor(operator: string, key: string, raw: Json, w: Witness | undefined, effect: string): Tri {
  const lowerKey = key.toLowerCase();
  let op = operator.toLowerCase();
  if (lowerKey === 'kms:grantisforawsresource') {
    // True only when an AWS service creates the grant for its own resource, with a grantee it
    // chooses: never for a caller acting by itself. A Deny on it may not apply, so not certain.
    if (effect === 'Deny' || op !== 'bool') return 'maybe';
    const values = asList(raw).map((v) => String(v).toLowerCase());
    return values.includes('false') ? 'yes' : 'no';
  }
  if (!PRINCIPAL_KEYS.has(lowerKey) || w === undefined) return 'maybe';
  if (op.startsWith('forallvalues:') || op.startsWith('foranyvalue:')) return 'maybe';
  // The caller's ARN and account are always present, so IfExists changes nothing.
  if (op.endsWith('ifexists')) op = op.slice(0, -'ifexists'.length);
  const value = lowerKey === 'aws:principalarn' ? normalisePrincipal(w.arn) : callerAccount(w.arn);
  const list = asList(raw).map((v) => (typeof v === 'boolean' ? String(v) : v));
  if (list.length === 0 || list.some((v) => typeof v !== 'string')) return 'maybe';
  const patterns = list as string[];
  // A policy variable (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html)
  // takes the request's value: whether it holds is not known here.
  if (patterns.some((p) => p.includes('${'))) return 'maybe';
  if (op === 'null')
    return patterns.every((p) => p === 'false')
      ? 'yes'
      : patterns.every((p) => p === 'true')
        ? 'no'
        : 'maybe';
  // A witness that stands for many principals answers only exact comparisons for all of them:
  // none of those it stands for is named, so none equals a value.
  const standsForMany = lowerKey === 'aws:principalarn' ? w.unnamed : w.unnamedAccount;
  const exact = (p: string) => p === value;
  const compare: Record<string, (p: string) => boolean> = standsForMany
    ? { stringequals: exact }
    : {
        stringequals: exact,
        stringequalsignorecase: (p) => p.toLowerCase() === value.toLowerCase(),
        stringlike: (p) => globMatch(p, value),
      };
  const negated = op.startsWith('stringnot') ? `string${op.slice('stringnot'.length)}` : undefined;
  const test = compare[negated ?? op];
  if (test === undefined) return 'maybe';
  const hit = patterns.some(test);
  return hit !== (negated !== undefined) ? 'yes' : 'no';
}

function conditionsFor(st: Record<string, Json>, w: Witness | undefined): Tri {
  if (!('Condition' in st)) return 'yes';
  const c = st.Condition;
  if (!isObject(c)) return 'maybe';
  const parts: Tri[] = [];
  for (const [op, block] of Object.entries(c)) {
    if (!isObject(block)) return 'maybe';
    for (const [key, raw] of Object.entries(block))
      parts.push(conditionFor(op, key, raw, w, String(st.Effect)));
  }
  return and(parts);
}

/** A statement's principals: anyone, or these ARNs and these accounts. */
interface Principals {
  /** Allow: may be anyone. Deny: certainly everyone. */
  anyone: boolean;
  arns: ReadonlySet<string>;
  accounts: ReadonlySet<string>;
}

/**
 * The principals an Allow may name (`NotPrincipal`, `*`, a principal type other than AWS or
 * Service, or a value that is not a string: anyone), or that a Deny certainly names (its AWS
 * ARNs, `*` and accounts; nothing for `NotPrincipal`).
 */
function principalsOf(st: Record<string, Json>): Principals {
  const allow = st.Effect === 'Allow';
  const arns = new Set<string>();
  const accounts = new Set<string>();
  const none = { anyone: false, arns, accounts };
  if ('NotPrincipal' in st) return allow ? { ...none, anyone: true } : none;
  const principal = st.Principal;
  if (principal === '*') return { ...none, anyone: true };
  if (!isObject(principal)) return allow ? { ...none, anyone: true } : none;
  let anyone = false;
  for (const [type, value] of Object.entries(principal)) {
    // A service principal is an AWS service, never an IAM principal; other types may be anyone.
    if (type === 'Service') continue;
    if (type !== 'AWS') {
      anyone ||= allow;
      continue;
    }
    for (const p of asList(value)) {
      if (typeof p !== 'string') anyone ||= allow;
      else if (p === '*') anyone = true;
      else {
        const account = accountPrincipal(p);
        if (account !== undefined) accounts.add(account);
        else arns.add(p);
      }
    }
  }
  return { anyone, arns, accounts };
}

/**
 * Whether the principals include the witness (undefined: someone). An account names the
 * principals of that account in a Deny; in an Allow it delegates to the account's IAM policies,
 * which counts only when `delegated`.
 */
function names(p: Principals, w: Witness | undefined, delegated: boolean): boolean {
  if (p.anyone) return true;
  if (w === undefined) return p.arns.size > 0 || p.accounts.size > 0;
  const callerNames = namesOf(w.arn);
  if (callerNames.some((n) => p.arns.has(n))) return true;
  return delegated && callerNames.some((n) => p.accounts.has(accountOf(n) ?? ''));
}

function actionMay(st: Record<string, Json>, action: string): boolean {
  const matches = (list: Json[]) => list.some((p) => typeof p !== 'string' || globMatch(p, action, true));
  if ('NotAction' in st) {
    const list = asList(st.NotAction);
    return list.some((p) => typeof p !== 'string') || !matches(list) || 'Action' in st;
  }
  return !('Action' in st) || matches(asList(st.Action));
}

function actionCertain(st: Record<string, Json>, action: string): boolean {
  const strings = (v: Json) => asList(v).every((p) => typeof p === 'string');
  const hits = (v: Json) => asList(v).some((p) => typeof p === 'string' && globMatch(p, action, true));
  if ('Action' in st === 'NotAction' in st) return false;
  return 'Action' in st ? hits(st.Action) : strings(st.NotAction) && !hits(st.NotAction);
}

function resourceCertain(st: Record<string, Json>, keyArn: string): boolean {
  const hits = (v: Json) => asList(v).some((p) => typeof p === 'string' && globMatch(p, keyArn));
  if ('Resource' in st === 'NotResource' in st) return false;
  if ('Resource' in st) return hits(st.Resource);
  return asList(st.NotResource).every((p) => typeof p === 'string') && !hits(st.NotResource);
}

interface Compiled {
  st: Record<string, Json>;
  principals: Principals;
}

/** A key policy's Allow and Deny statements, read once, asked about witnesses. */
export class PolicyView {
  readonly statements: Record<string, Json>[] = [];
  private readonly allows: Compiled[] = [];
  private readonly denies: Compiled[] = [];

  constructor(
    policy: Json,
    private readonly keyArn: string,
  ) {
    for (const st of isObject(policy) ? asList(policy.Statement) : []) {
      if (!isObject(st) || (st.Effect !== 'Allow' && st.Effect !== 'Deny')) continue;
      this.statements.push(st);
      (st.Effect === 'Allow' ? this.allows : this.denies).push({ st, principals: principalsOf(st) });
    }
  }

  /** Could an Allow let the witness (undefined: someone) do the action, under some context? */
  mayAllow(w: Witness | undefined, action: string, delegated: boolean): boolean {
    return this.allows.some(
      ({ st, principals }) =>
        actionMay(st, action) && names(principals, w, delegated) && conditionsFor(st, w) !== 'no',
    );
  }

  /** Does a Deny refuse the witness the action whatever the context? */
  certainlyDenied(w: Witness, action: string): boolean {
    return this.denies.some(
      ({ st, principals }) =>
        actionCertain(st, action) &&
        names(principals, w, true) &&
        resourceCertain(st, this.keyArn) &&
        conditionsFor(st, w) === 'yes',
    );
  }
}

/** Every string a statement names as a principal or compares the caller's ARN or account with. */
export function namedPrincipals(statements: Record<string, Json>[]): {
  arns: Set<string>;
  accounts: Set<string>;
} {
  const arns = new Set<string>();
  const accounts = new Set<string>();
  const addArn = (p: Json) => {
    if (typeof p !== 'string' || p === '*') return;
    const account = accountPrincipal(p) ?? accountOf(p);
    if (account !== undefined) accounts.add(account);
    // An account stands for its root user too.
    arns.add(/^\d{12}$/.test(p) ? `arn:aws:iam::${p}:root` : p);
  };
  for (const st of statements) {
    for (const field of ['Principal', 'NotPrincipal'])
      if (isObject(st[field]))
        for (const v of Object.values(st[field] as Record<string, Json>)) asList(v).forEach(addArn);
    if (!isObject(st.Condition)) continue;
    for (const block of Object.values(st.Condition)) {
      if (!isObject(block)) continue;
      for (const [key, raw] of Object.entries(block)) {
        const lower = key.toLowerCase();
        for (const v of asList(raw)) {
          if (typeof v !== 'string') continue;
          if (lower === 'aws:principalarn') addArn(v);
          if (lower === 'kms:calleraccount' && /^\d{12}$/.test(v)) accounts.add(v);
        }
      }
    }
  }
  return { arns, accounts };
}

/** A name that no statement, grant or condition value contains. */
export function unnamedUser(account: string, taken: string): string {
  let n = 0;
  while (taken.includes(`eaas-unnamed-${n}`)) n++;
  return `arn:aws:iam::${account}:user/eaas-unnamed-${n}`;
}

export function unnamedAccount(taken: ReadonlySet<string>): string {
  for (let n = 999_999_999_999; ; n--) if (!taken.has(String(n))) return String(n);
}
