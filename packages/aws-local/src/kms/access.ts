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

  private request(action: string, resource: string, context?: EncryptionContext): AuthzRequest {
    return {
      principal: this.principal.arn,
      action,
      keyArn: resource,
      keyAccountId: this.store.accountId,
      encryptionContext: context,
      grantIsForAWSResource: false,
    };
  }

  /** Whether the caller's IAM policies allow the action on the resource (no explicit Deny). */
  iamAllows(action: string, resource: string): boolean {
    return identityVerdict(this.principal.policies, this.request(action, resource)) === 'allow';
  }

  /** An operation on no key, or on an alias: IAM decides. */
  requireIam(action: string, resource = '*'): void {
    const allowed = this.iamAllows(action, resource);
    this.outcomes.push({ action, resource, decision: { allowed, reason: 'iam' } });
    if (!allowed) throw accessDenied(this.principal, action, resource, 'no identity-based policy allows it');
  }

  /** The decision for an action on a key, without recording it. */
  decide(key: Pick<KeyRecord, 'keyId' | 'policy'>, action: string, context?: EncryptionContext): Decision {
    const arn = this.store.keyArn(key.keyId);
    const req = this.request(action, arn, context);
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
  require(key: KeyRecord, action: string, context?: EncryptionContext): Decision {
    const decision = this.decide(key, action, context);
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
