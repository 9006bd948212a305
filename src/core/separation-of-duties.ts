import { accountOf, type GrantLike, normalisePrincipal } from '@eaas/aws-rules';
import { CRYPTO_ACTIONS, MANAGE_ACTIONS } from './key-policy.js';
import {
  accountPrincipal,
  namedPrincipals,
  namesOf,
  PolicyView,
  unnamedAccount,
  unnamedUser,
  type Witness,
} from './policy-witness.js';

/**
 * Separation of duties for a key policy document: which principals it could let both manage the
 * key and use it. A sound over-approximation of what KMS, and the evaluator in `authz.ts`, would
 * decide for any caller and any encryption context (how an Allow and a Deny count, and the
 * witnesses that stand for principals, are in `policy-witness.ts`):
 *
 * - Who manages: any principal an Allow, other than the account root statement, may let do one
 *   of MANAGE_ACTIONS. The account root statement delegates to the account's IAM policies, which
 *   the key policy cannot see: administrators by IAM are the account's own decision.
 * - Who uses: any principal an Allow may let do one of CRYPTO_ACTIONS (the account root
 *   statement included: IAM may allow it), or that holds a grant for one, or that anyone could
 *   give a grant to (any Allow of CreateGrant, or a grant of it) — unless a Deny certainly
 *   refuses it that operation: in KMS an explicit Deny in the key policy wins over grants too.
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
