import {
  type AuthzRequest,
  authorize,
  type Decision,
  describeDecision,
  type EncryptionContext,
  identityVerdict,
  parseJsonStrict,
} from '@eaas/aws-rules';
import type { LocalPrincipal } from '../identity.js';
import { KmsError } from './errors.js';
import type { KeyRecord, KeyStore } from './key-store.js';
import { specOf } from './records.js';

/**
 * Authorization in the local KMS, as AWS KMS does it for the signed caller: an explicit Deny in
 * the caller's IAM policies or the key policy refuses; otherwise the key policy, then the grants
 * on the key, may allow. The key policy's account-root statement delegates to the caller's IAM
 * policies. Operations on no key (CreateKey, ListKeys, GenerateRandom...) are decided by IAM alone.
 */

/** A decision the key policy and grants do not make: IAM alone, or RetireGrant's own rule. */
export interface OtherDecision {
  allowed: boolean;
  reason: 'iam' | 'grantee' | 'retiring-principal';
}

export interface AccessOutcome {
  action: string;
  resource: string;
  decision: Decision | OtherDecision;
}

const OTHER_REASONS: ReadonlySet<string> = new Set(['iam', 'grantee', 'retiring-principal']);

/** An outcome in words, for the request log. */
export function describeOutcome(o: AccessOutcome): string {
  const d = o.decision;
  const why = OTHER_REASONS.has(d.reason)
    ? `${d.allowed ? 'allowed' : 'denied'} by ${d.reason === 'iam' ? 'identity-based policy' : `the grant's ${d.reason}`}`
    : describeDecision(d as Decision);
  return `${o.action} on ${o.resource}: ${why}`;
}

function accessDenied(principal: LocalPrincipal, action: string, resource: string, why: string): KmsError {
  return new KmsError(
    'AccessDeniedException',
    `User: ${principal.arn} is not authorized to perform: ${action} on resource: ${resource} because ${why}`,
  );
}

export class LocalAccess {
  /** Every decision taken for the current request, for the request log. */
  readonly outcomes: AccessOutcome[] = [];

  constructor(
    private readonly store: KeyStore,
    readonly principal: LocalPrincipal,
  ) {}

  get decided(): boolean {
    return this.outcomes.length > 0;
  }

  /**
   * The request as the policies see it, with the condition keys AWS KMS supplies
   * (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html and
   * https://docs.aws.amazon.com/kms/latest/developerguide/conditions-aws.html): the key's tags as
   * `aws:ResourceTag/<key>` on every operation on a key (none on CreateKey, which has no key), the
   * tags of the request (`aws:RequestTag/<key>`, `aws:TagKeys`) where the operation takes tags,
   * `aws:ResourceAccount`, and the operation's own keys in `extra` (kms:KeySpec, kms:GrantOperations...).
   * Keys of these families the request lacks are absent, not unknown; kms:ViaService is always
   * absent (a local caller is never an AWS service).
   */
  private request(
    action: string,
    resource: string,
    context?: EncryptionContext,
    extra: Readonly<Record<string, readonly string[]>> = {},
    key?: Pick<KeyRecord, 'keyId'>,
  ): AuthzRequest {
    const found = key ? this.store.findKey(key.keyId) : undefined;
    const tags = found?.tags ?? [];
    const conditions: Record<string, readonly string[]> = {
      'aws:ResourceTag/*': [],
      'aws:RequestTag/*': [],
      'aws:TagKeys': [],
      'kms:ViaService': [],
      'aws:ResourceAccount': key ? [this.store.accountId] : [],
      'aws:PrincipalAccount': [this.store.accountId],
    };
    for (const t of tags) conditions[`aws:ResourceTag/${t.TagKey}`] = [t.TagValue];
    if (found) {
      // The key's own properties, on every operation on a key: "kms:KeySpec ... KMS key resource
      // operations" (and kms:KeyUsage, kms:KeyOrigin, kms:MultiRegion alike), conditions-kms.html.
      const { keySpec, keyUsage, origin } = specOf(found);
      conditions['kms:KeySpec'] = [keySpec];
      conditions['kms:KeyUsage'] = [keyUsage];
      conditions['kms:KeyOrigin'] = [origin];
      conditions['kms:MultiRegion'] = ['false'];
    }
    // The session's own keys (an identity pool's cognito-identity.amazonaws.com:sub...), which the
    // policies may test and name as policy variables; the operation's keys come after them.
    Object.assign(conditions, this.principal.conditionKeys, extra);
    return {
      principal: this.principal.arn,
      action,
      keyArn: resource,
      keyAccountId: this.store.accountId,
      encryptionContext: context,
      grantIsForAWSResource: false,
      conditions,
    };
  }

  /** Whether the caller's IAM policies allow the action on the resource (no explicit Deny). */
  iamAllows(
    action: string,
    resource: string,
    extra: Readonly<Record<string, readonly string[]>> = {},
  ): boolean {
    return (
      identityVerdict(this.principal.policies, this.request(action, resource, undefined, extra)) === 'allow'
    );
  }

  /** An operation on no key, or on an alias: IAM decides. */
  requireIam(action: string, resource = '*', extra: Readonly<Record<string, readonly string[]>> = {}): void {
    const allowed = this.iamAllows(action, resource, extra);
    this.outcomes.push({ action, resource, decision: { allowed, reason: 'iam' } });
    if (!allowed) throw accessDenied(this.principal, action, resource, 'no identity-based policy allows it');
  }

  /**
   * Whether a key policy alone lets the caller do `action` (its account-root statement counting as
   * IAM's to decide): KMS's policy lockout safety check.
   */
  keyPolicyAllows(
    key: Pick<KeyRecord, 'keyId' | 'policy'>,
    action: string,
    extra: Readonly<Record<string, readonly string[]>> = {},
  ): boolean {
    let policy: unknown;
    try {
      policy = parseJsonStrict(key.policy);
    } catch {
      return false;
    }
    const req = this.request(action, this.store.keyArn(key.keyId), undefined, extra, key);
    return authorize(policy, [], { ...req, iamAllows: () => true }).allowed;
  }

  /** The decision for an action on a key, without recording it. */
  decide(
    key: Pick<KeyRecord, 'keyId' | 'policy'>,
    action: string,
    context?: EncryptionContext,
    extra: Readonly<Record<string, readonly string[]>> = {},
  ): Decision {
    const arn = this.store.keyArn(key.keyId);
    const req = this.request(action, arn, context, extra, key);
    if (identityVerdict(this.principal.policies, req) === 'deny') {
      return { allowed: false, reason: 'explicit-deny', statement: { index: -1, sid: 'identity policy' } };
    }
    let policy: unknown;
    try {
      policy = parseJsonStrict(key.policy);
    } catch {
      policy = undefined;
    }
    const grants = this.store.grantsOf(key.keyId);
    return authorize(
      policy,
      grants.map((g) => ({
        grantId: g.grantId,
        granteePrincipal: g.grantee,
        operations: g.operations,
        constraints: g.constraints,
      })),
      {
        ...req,
        iamAllows: (a) => identityVerdict(this.principal.policies, { ...req, action: a }) === 'allow',
      },
    );
  }

  /** Precondition of every operation on a key: the caller may do `action` on it. */
  require(
    key: KeyRecord,
    action: string,
    context?: EncryptionContext,
    extra: Readonly<Record<string, readonly string[]>> = {},
  ): Decision {
    const decision = this.decide(key, action, context, extra);
    const resource = this.store.keyArn(key.keyId);
    this.outcomes.push({ action, resource, decision });
    if (!decision.allowed) {
      throw accessDenied(
        this.principal,
        action,
        resource,
        decision.reason === 'explicit-deny'
          ? 'an explicit deny in a policy applies'
          : 'no resource-based policy allows the action',
      );
    }
    return decision;
  }

  /** For operations with their own rule (RetireGrant): record the caller's right as decided. */
  allowBy(reason: 'grantee' | 'retiring-principal', action: string, resource: string): void {
    this.outcomes.push({ action, resource, decision: { allowed: true, reason } });
  }

  deny(action: string, resource: string, why: string): KmsError {
    this.outcomes.push({ action, resource, decision: { allowed: false, reason: 'implicit-deny' } });
    return accessDenied(this.principal, action, resource, why);
  }
}
