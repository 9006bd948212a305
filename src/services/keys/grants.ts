import {
  caseTwinKeys,
  contextProblems,
  type EncryptionContext,
  grantNarrows,
  parseJsonStrict,
} from '@eaas/aws-rules';
import { DomainError, ValidationError } from '../../core/errors.js';
import { GRANT_OPERATIONS, SYMMETRIC, useOperationsOf } from '../../core/key-kinds.js';
import { mayManage } from '../../core/separation-of-duties.js';
import type { GrantInfo, NewGrant } from '../../ports.js';
import { asGrantLike } from '../access.js';
import {
  guard,
  type KeyMarkerCursor,
  type KeysContext,
  markerFor,
  principals,
  type Requester,
} from './shared.js';

export interface CreateGrant {
  grantee: string;
  operations: string[];
  constraints?: {
    encryptionContextSubset?: EncryptionContext;
    encryptionContextEquals?: EncryptionContext;
  };
  name?: string | undefined;
  retiringPrincipal?: string | undefined;
}

/** A grant as the API shows it. */
export function grantView(g: GrantInfo) {
  return {
    grantId: g.grantId,
    ...(g.name ? { name: g.name } : {}),
    grantee: g.granteePrincipal,
    ...(g.retiringPrincipal ? { retiringPrincipal: g.retiringPrincipal } : {}),
    operations: g.operations,
    ...(g.constraints?.EncryptionContextSubset
      ? { constraints: { encryptionContextSubset: g.constraints.EncryptionContextSubset } }
      : g.constraints?.EncryptionContextEquals
        ? { constraints: { encryptionContextEquals: g.constraints.EncryptionContextEquals } }
        : {}),
    ...(g.createdAt ? { createdAt: g.createdAt.toISOString() } : {}),
  };
}

function checkContext(ctx: EncryptionContext | undefined, name: string): void {
  if (ctx === undefined) return;
  const problems = contextProblems(ctx, name);
  if (problems.length > 0)
    throw new ValidationError(`Invalid ${name}: ${problems[0]?.path} ${problems[0]?.message}.`, problems);
  // A constraint's keys are not case-sensitive, so two keys differing only in case are one key twice.
  const twins = caseTwinKeys(ctx);
  if (twins.length > 0)
    throw new ValidationError(
      `Invalid ${name}: the keys ${twins.join(', ')} differ only in case; constraint keys are not case-sensitive.`,
      twins.map((k) => ({ path: `${name}.${k}`, message: 'differs from another key only in case' })),
    );
}

/** The KMS constraints of a grant request; at most one of the two kinds. */
function constraintsOf(c: CreateGrant['constraints']): NewGrant['constraints'] {
  if (c?.encryptionContextSubset !== undefined && c.encryptionContextEquals !== undefined)
    throw new ValidationError('Give encryptionContextSubset or encryptionContextEquals, not both.');
  checkContext(c?.encryptionContextSubset, 'constraints.encryptionContextSubset');
  checkContext(c?.encryptionContextEquals, 'constraints.encryptionContextEquals');
  return c?.encryptionContextSubset
    ? { EncryptionContextSubset: c.encryptionContextSubset }
    : c?.encryptionContextEquals
      ? { EncryptionContextEquals: c.encryptionContextEquals }
      : undefined;
}

/**
 * Grants: made by who may `kms:CreateGrant` on the key (under a grant, only a narrower one, as
 * KMS requires), never giving cryptographic operations to who may manage the key; listed and
 * revoked by who may.
 */
export class KeyGrants {
  constructor(private readonly ctx: KeysContext) {}

  async create(r: Requester, keyId: string, input: CreateGrant) {
    const { access, admin } = this.ctx;
    const [grantee] = principals([input.grantee], 'grantee') as [string];
    const retiring =
      input.retiringPrincipal === undefined
        ? undefined
        : principals([input.retiringPrincipal], 'retiringPrincipal')[0];
    const constraints = constraintsOf(input.constraints);
    const { keyArn: arn, decision } = await access.require(
      r.caller,
      { keyId, action: 'kms:CreateGrant' },
      { record: r.record },
    );
    const operations = [...new Set(input.operations)];
    // Precondition: operations the key takes (KMS refuses a grant of others, less clearly).
    const kind = (await admin.describeKey(arn)).kind ?? SYMMETRIC;
    const takes = useOperationsOf(kind);
    const offered: readonly string[] = GRANT_OPERATIONS;
    const foreign = operations.filter((op) => offered.includes(op) && !takes.includes(op));
    if (foreign.length > 0)
      throw new ValidationError(
        `A ${kind.spec} key for ${kind.usage} takes grants of ${takes.join(', ')}; not ${foreign.join(', ')}.`,
        [{ path: '/operations', message: `must be among ${takes.join(', ')}` }],
      );
    // Precondition: a constraint only on a key whose operations take an encryption context (a
    // symmetric encryption key). "You cannot use an encryption context grant constraint for
    // cryptographic operations with asymmetric KMS keys or HMAC KMS keys" (API_CreateGrant,
    // Constraints); and KMS's GrantConstraints reference says such constraints "are not applied"
    // to operations without a context: a grant meant "only for tenant=acme" must not become an
    // unconstrained one, so it is refused here, before KMS is asked.
    if (constraints !== undefined && kind.spec !== 'SYMMETRIC_DEFAULT')
      throw new ValidationError(
        `A ${kind.spec} key for ${kind.usage} takes no encryption context, so its grants cannot be constrained by one: give the grant without constraints (or a symmetric encryption key).`,
        [{ path: '/constraints', message: `not allowed on a ${kind.spec} key` }],
      );
    // A grant that allows CreateGrant may only hand on a narrower grant, as KMS requires.
    if (decision.reason === 'grant') {
      const parent = (await access.grantsOf(r.caller, arn)).find((g) => g.grantId === decision.grantId);
      if (!parent || !grantNarrows(asGrantLike(parent), { operations, constraints }))
        throw new DomainError(
          'AccessDenied',
          'A grant made under your grant may only have the same or fewer operations and the same or stricter constraints.',
        );
    }
    // Precondition: who may manage the key does not use it, not even through a grant: the grantee,
    // any session of it (a role) or any principal of it (an account), under any context.
    if (operations.some((op) => op !== 'DescribeKey') && (await this.administers(grantee, arn)))
      throw new DomainError(
        'SeparationOfDuties',
        `${grantee} may manage the key (or one who acts as it may) and may not be granted its cryptographic operations.`,
      );
    const grant: NewGrant = {
      granteePrincipal: grantee,
      operations,
      ...(constraints ? { constraints } : {}),
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(retiring !== undefined ? { retiringPrincipal: retiring } : {}),
    };
    const out = await admin.createGrant(arn, grant);
    access.invalidate(arn);
    return { keyId: arn, grantId: out.grantId, grantToken: out.grantToken };
  }

  /** Whether the key's policy, as it is now, may let the principal manage the key. */
  private async administers(principal: string, keyArn: string): Promise<boolean> {
    const text = await this.ctx.admin.keyPolicy(keyArn);
    let policy: unknown;
    try {
      policy = parseJsonStrict(text);
    } catch {
      // A policy that cannot be read: assume the worst.
      return true;
    }
    return mayManage(policy, principal, keyArn);
  }

  async list(r: Requester, keyId: string, limit: number, cursor?: KeyMarkerCursor) {
    const arn = await guard(this.ctx, r, keyId, 'kms:ListGrants');
    const page = await this.ctx.admin.listGrants(arn, limit, markerFor(cursor, arn));
    return {
      keyId: arn,
      grants: page.items.map(grantView),
      ...(page.nextToken ? { next: { keyArn: arn, marker: page.nextToken } } : {}),
    };
  }

  async revoke(r: Requester, keyId: string, grantId: string) {
    const arn = await guard(this.ctx, r, keyId, 'kms:RevokeGrant');
    await this.ctx.admin.revokeGrant(arn, grantId);
    this.ctx.access.invalidate(arn);
    return { keyId: arn, grantId, revoked: true };
  }
}
