import { type GrantLike, parseJsonStrict, policyDocumentProblem } from '@eaas/aws-rules';
import { DomainError, ValidationError } from '../../core/errors.js';
import { type PolicyRoles, rolesKeyPolicy, rolesOf, upgradedRolesPolicy } from '../../core/key-policy.js';
import { type DualRole, dualRolePrincipals } from '../../core/separation-of-duties.js';
import { AccessControl, asGrantLike, type Caller } from '../access.js';
import { guard, type KeysContext, principals, type Requester, requireSeparateRoles } from './shared.js';

const MAX_POLICY_BYTES = 32_768;
/** Grants read for the separation-of-duties check of a policy; past this, any grant may exist. */
const MAX_GRANT_PAGES = 10;

export interface PutPolicy {
  administrators?: string[] | undefined;
  users?: string[] | undefined;
  policy?: unknown;
}

/** A refusal naming who could both manage and use the key, and how. */
function separationOfDuties(mixed: readonly DualRole[]): DomainError {
  const how: Record<DualRole['via'], string> = {
    policy: 'a statement of the policy may allow it, under some encryption context',
    grant: 'it holds a grant for it',
    'account root statement': 'the account root statement lets its IAM policies allow it',
    'grant it could be given': 'a grant could give it, and no statement denies it',
  };
  const cases = mixed.slice(0, 3).map((m) => `${m.principal} may ${m.manages} and ${m.uses} (${how[m.via]})`);
  if (mixed.length > 3) cases.push(`${mixed.length - 3} more`);
  return new DomainError(
    'SeparationOfDuties',
    `The policy could let a principal both manage and use the key: ${cases.join('; ')}. Deny the administrators every cryptographic operation with a statement without conditions (as the policies this service writes do), and keep them out of the users.`,
  );
}

/**
 * A key's policy: reading it (with the administrators and users it names), and replacing it,
 * under separation of duties (no principal may both manage and use the key) and KMS's lockout
 * rule for the caller (it must still manage the key afterwards).
 */
export class KeyPolicies {
  constructor(private readonly ctx: KeysContext) {}

  async get(r: Requester, keyId: string) {
    const arn = await guard(this.ctx, r, keyId, 'kms:GetKeyPolicy');
    const text = await this.ctx.admin.keyPolicy(arn);
    let doc: unknown;
    try {
      doc = parseJsonStrict(text);
    } catch {
      doc = undefined;
    }
    // `managed`: exactly as this deployment writes it, naming its own roles.
    const { administrators, users, managed }: PolicyRoles = rolesOf(doc, this.ctx.accountId, {
      serviceRoles: this.ctx.serviceRoles,
      adminRoles: this.ctx.adminRoles,
      kind: (await this.ctx.admin.describeKey(arn)).kind,
    });
    // `outdated`: written by this service in an earlier version, or naming other role ARNs (a
    // deployment before the streams, uploads or batch roles existed): a PUT of the same
    // administrators and users brings it to today's, which those functions need. Any other
    // document not `managed` is someone's own, and stays as it is.
    const outdated =
      !managed &&
      upgradedRolesPolicy(doc, this.ctx.accountId, this.ctx.serviceRoles, this.ctx.adminRoles) !== undefined;
    return { keyId: arn, administrators, users, managed, outdated, policy: doc ?? text };
  }

  /**
   * Replaces the key policy: from administrators and users (the service writes the whole
   * document), or a raw document. The new policy must still let the caller manage the key.
   */
  async put(r: Requester, keyId: string, input: PutPolicy) {
    const { ctx } = this;
    const arn = await guard(ctx, r, keyId, 'kms:PutKeyPolicy');
    const text = await this.documentOf(input, arn);
    // Precondition: no principal the policy lets manage the key could use it, under any context,
    // by a statement, a grant it holds or one it could be given (directly in KMS too).
    const { grants, complete } = await this.allGrants(arn);
    const mixed = dualRolePrincipals({
      policy: parseJsonStrict(text),
      keyArn: arn,
      keyAccountId: ctx.accountId,
      grants,
      moreGrants: !complete,
    });
    if (mixed.length > 0) throw separationOfDuties(mixed);
    // Precondition: the caller can still manage the key afterwards (KMS's lockout check, for the caller).
    if (!(await mayManageUnder(text, arn, r.caller)))
      throw new DomainError(
        'PolicyLockout',
        'The new policy would not let you manage the key any more; keep yourself among its administrators.',
      );
    await ctx.admin.putKeyPolicy(arn, text);
    ctx.access.invalidate(arn);
    return this.get(r, arn);
  }

  /**
   * The policy document to put: the one given (checked as KMS checks it), or one from roles, with
   * the operations of the key's kind.
   */
  private async documentOf(input: PutPolicy, arn: string): Promise<string> {
    if (input.policy !== undefined) {
      if (input.administrators !== undefined || input.users !== undefined)
        throw new ValidationError('Give either administrators and users, or a policy document, not both.');
      const text = typeof input.policy === 'string' ? input.policy : JSON.stringify(input.policy);
      if (Buffer.byteLength(text) > MAX_POLICY_BYTES)
        throw new ValidationError(`A key policy is at most ${MAX_POLICY_BYTES} bytes.`);
      const problem = policyDocumentProblem(text);
      if (problem) throw new ValidationError(`The policy document is not valid: ${problem}`);
      return text;
    }
    const administrators = principals(input.administrators, 'administrators');
    const users = principals(input.users, 'users');
    requireSeparateRoles(administrators, users);
    return JSON.stringify(
      rolesKeyPolicy({
        accountId: this.ctx.accountId,
        administrators,
        users,
        serviceRoles: this.ctx.serviceRoles,
        adminRoles: this.ctx.adminRoles,
        kind: (await this.ctx.admin.describeKey(arn)).kind,
      }),
    );
  }

  /** The key's grants, up to MAX_GRANT_PAGES pages; `complete` false when there are more. */
  private async allGrants(keyArn: string): Promise<{ grants: GrantLike[]; complete: boolean }> {
    const grants: GrantLike[] = [];
    let token: string | undefined;
    for (let page = 0; page < MAX_GRANT_PAGES; page++) {
      const out = await this.ctx.admin.listGrants(keyArn, 100, token);
      grants.push(...out.items.map(asGrantLike));
      token = out.nextToken;
      if (token === undefined) return { grants, complete: true };
    }
    return { grants, complete: false };
  }
}

/** Whether the policy document `text` lets the caller manage the key (PutKeyPolicy), grants aside. */
async function mayManageUnder(text: string, arn: string, caller: Caller): Promise<boolean> {
  const probe = new AccessControl(
    {
      describe: async () => ({ arn, keyId: arn, state: 'Enabled', description: '' }),
      keyPolicy: async () => text,
      grantsFor: async () => [],
    },
    { ttlMs: 0 },
  );
  return (await probe.decide(caller, { keyId: arn, action: 'kms:PutKeyPolicy' })).decision.allowed;
}
