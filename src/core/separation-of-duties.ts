import { accountOf, type GrantLike, globMatch, normalisePrincipal } from '@eaas/aws-rules';
import { CRYPTO_ACTIONS, MANAGE_ACTIONS } from './key-policy.js';

/**
 * Separation of duties for a key policy document: which principals it could let both manage the
 * key and use it. A sound over-approximation of what KMS, and the evaluator in `authz.ts`, would
 * decide for any caller and any encryption context:
 *
 * - An Allow counts when it could apply: a condition on the encryption context, or one this
 *   module does not understand (KMS may), counts as satisfiable; the Resource is ignored.
 * - A Deny counts only when it applies whatever the context: same principal, an action it
 *   certainly names, this key, and conditions that certainly hold (on the principal only).
 * - Who manages: any principal an Allow, other than the account root statement, may let do one
 *   of MANAGE_ACTIONS. The account root statement delegates to the account's IAM policies, which
 *   the key policy cannot see: administrators by IAM are the account's own decision.
 * - Who uses: any principal an Allow may let do one of CRYPTO_ACTIONS (the account root
 *   statement included: IAM may allow it), or that holds a grant for one, or that anyone could
 *   give a grant to (any Allow of CreateGrant, or a grant of it) — unless a Deny certainly
 *   refuses it that operation: in KMS an explicit Deny in the key policy wins over grants too.
 *
 * Principals are checked through witnesses: every principal the document or the grants name,
 * and one principal named nowhere for each account involved (and one of an account named
 * nowhere), which stands for every principal no statement names. A condition on the caller's
 * ARN or account that the witness cannot answer for all those it stands for (a pattern, a case-
 * insensitive match) counts as satisfiable in an Allow and as not holding in a Deny.
 */

/** A principal, or a class of principals, that a policy could let both manage and use a key. */
export interface DualRole {
  /** An ARN, or `any principal of account A` for those no statement names. */
  principal: string;
  /** An action of MANAGE_ACTIONS an Allow may give it. */
  manages: string;
  /** A cryptographic action it may get, and how. */
  uses: string;
  /**
   * `policy`: a statement naming it (or anyone); `grant`: a grant it holds; `account root
   * statement`: its IAM policies, through that statement; `grant it could be given`: someone may
   * create grants, and nothing denies it the operation.
   */
  via: 'policy' | 'grant' | 'account root statement' | 'grant it could be given';
}

export interface SeparationInput {
  /** The key policy document, parsed. */
  policy: unknown;
  keyArn: string;
  keyAccountId: string;
  /** The grants on the key. */
  grants?: readonly GrantLike[] | undefined;
  /** `grants` are not all of them: any principal may hold any grant. */
  moreGrants?: boolean | undefined;
}

type Json = unknown;
type Tri = 'yes' | 'no' | 'maybe';

interface Witness {
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
const accountPrincipal = (p: string): string | undefined => (/^\d{12}$/.test(p) ? p : ROOT.exec(p)?.[1]);
const namesOf = (arn: string): string[] => [...new Set([arn, normalisePrincipal(arn)])];
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

class PolicyView {
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
function namedPrincipals(statements: Record<string, Json>[]): { arns: Set<string>; accounts: Set<string> } {
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
function unnamedUser(account: string, taken: string): string {
  let n = 0;
  while (taken.includes(`eaas-unnamed-${n}`)) n++;
  return `arn:aws:iam::${account}:user/eaas-unnamed-${n}`;
}

function unnamedAccount(taken: ReadonlySet<string>): string {
  for (let n = 999_999_999_999; ; n--) if (!taken.has(String(n))) return String(n);
}

const grantOperation = (action: string) => action.replace(/^kms:/i, '');

/**
 * The principals (or classes of principals) that the policy could let both manage the key and use
 * it, each with one way it manages and one way it uses; empty when separation of duties holds.
 */
export function dualRolePrincipals(input: SeparationInput): DualRole[] {
  const view = new PolicyView(input.policy, input.keyArn);
  const grants = input.grants ?? [];
  const { arns, accounts } = namedPrincipals(view.statements);
  for (const g of grants) {
    arns.add(g.granteePrincipal);
    const a = accountOf(g.granteePrincipal) ?? accountPrincipal(g.granteePrincipal);
    if (a !== undefined) accounts.add(a);
  }
  accounts.add(input.keyAccountId);
  const taken = JSON.stringify([input.policy, grants.map((g) => g.granteePrincipal)]);
  const other = unnamedAccount(accounts);
  const witnesses: Witness[] = [
    ...[...arns].map((arn) => ({ arn, unnamed: false, unnamedAccount: false })),
    ...[...accounts].map((a) => ({ arn: unnamedUser(a, taken), unnamed: true, unnamedAccount: false })),
    { arn: unnamedUser(other, taken), unnamed: true, unnamedAccount: true },
  ];
  // Someone could create a grant: any Allow of CreateGrant (the account root's included), a grant
  // of it, or grants not read.
  const grantable =
    input.moreGrants === true ||
    view.mayAllow(undefined, 'kms:CreateGrant', true) ||
    grants.some((g) => g.operations.includes('CreateGrant'));
  const out: DualRole[] = [];
  for (const w of witnesses) {
    const manages = MANAGE_ACTIONS.find((a) => view.mayAllow(w, a, false));
    if (manages === undefined) continue;
    const names = namesOf(w.arn);
    // A grant to an account may serve any principal of it.
    const holds = (g: GrantLike) => {
      const account = accountPrincipal(g.granteePrincipal);
      return (
        names.includes(g.granteePrincipal) ||
        (account !== undefined && names.some((n) => accountOf(n) === account))
      );
    };
    const open = CRYPTO_ACTIONS.filter((action) => !view.certainlyDenied(w, action));
    // The most telling way first: a statement naming it, a grant it holds, IAM, a grant to come.
    const ways: [DualRole['via'], (action: string) => boolean][] = [
      ['policy', (action) => view.mayAllow(w, action, false)],
      ['grant', (action) => grants.some((g) => holds(g) && g.operations.includes(grantOperation(action)))],
      ['account root statement', (action) => view.mayAllow(w, action, true)],
      ['grant it could be given', () => grantable],
    ];
    const found = ways.map(([via, may]) => ({ via, uses: open.find(may) })).find((f) => f.uses !== undefined);
    if (found?.uses === undefined) continue;
    const principal = w.unnamed
      ? w.unnamedAccount
        ? 'any principal of an account the policy does not name'
        : `any principal of account ${accountOf(w.arn)} that the policy does not name`
      : w.arn;
    out.push({ principal, manages, uses: found.uses, via: found.via });
  }
  return out;
}

/**
 * Whether a principal could manage the key under the policy, under any context: it, or any
 * assumed-role session of it (a grant to a role serves its sessions), or for an account, any
 * principal of it.
 */
export function mayManage(policy: unknown, principal: string, keyArn: string): boolean {
  const view = new PolicyView(policy, keyArn);
  const { arns } = namedPrincipals(view.statements);
  const account = accountPrincipal(principal);
  const role = /^arn:(aws[a-z-]*):iam::(\d{12}):role\/(.+)$/.exec(principal);
  const covered = (arn: string) =>
    arn === principal ||
    (account !== undefined && accountOf(arn) === account) ||
    (role !== null && normalisePrincipal(arn) === principal);
  const witnesses: Witness[] = [...arns]
    .filter(covered)
    .map((arn) => ({ arn, unnamed: false, unnamedAccount: false }));
  witnesses.push(
    account !== undefined
      ? { arn: unnamedUser(account, JSON.stringify(policy)), unnamed: true, unnamedAccount: false }
      : { arn: principal, unnamed: false, unnamedAccount: false },
  );
  return witnesses.some((w) => MANAGE_ACTIONS.some((a) => view.mayAllow(w, a, false)));
}
