import { type AuthzRequest, identityVerdict, resourcePolicyVerdict } from '@eaas/aws-rules';
import type { LocalPrincipal } from '../identity.js';
import type { Bucket } from './bucket.js';
import { S3Error } from './errors.js';
import type { S3Storage } from './storage.js';

/**
 * Authorization in the local S3, as S3 does it for a request made in the bucket owner's account
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-policy-language-overview.html,
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
 * each request is the IAM action of its operation on the bucket's or the object's ARN, with the
 * condition keys S3 supplies; an explicit Deny in the caller's IAM policies or in the bucket
 * policy refuses, otherwise an Allow in either suffices.
 *
 * Whose IAM policies count: the restricted principals' (the application's roles, given to the
 * local S3 as `roles`). The other local principals (the seed's users and the service's own
 * principal, whose policies speak of KMS and CloudWatch Logs only) act in S3 as the account's
 * root user does: their identity allows every S3 action, a bucket policy's Deny still applies to
 * them, and they may always get, put and delete a bucket policy, as the bucket owner's root may
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html), so that no policy
 * locks a developer out of a local bucket.
 */

export type S3Decision =
  | { allowed: true; by: 'identity-based' | 'resource-based' }
  | { allowed: false; reason: 'explicit-deny'; in: 'identity-based' | 'resource-based' }
  | { allowed: false; reason: 'implicit-deny' };

/** What one request must be allowed: an action on a bucket, on one of its objects, or on none. */
export interface Permission {
  action: string;
  /** The bucket acted on (or holding the object); undefined for actions on no resource. */
  bucket?: string | undefined;
  /** The object's key, for object actions. */
  key?: string | undefined;
  /** The operation's own condition keys (s3:prefix, s3:x-amz-server-side-encryption...). */
  conditions?: Readonly<Record<string, readonly string[]>> | undefined;
}

/** The bucket policy actions the bucket owner's root user may always take. */
const OWNER_ROOT_ACTIONS = new Set(['s3:getbucketpolicy', 's3:putbucketpolicy', 's3:deletebucketpolicy']);

/**
 * The S3 condition keys the local S3 knows (list_amazons3.html's "Condition keys for Amazon S3"):
 * a key of them a request does not carry is absent, so that `Null` and `...IfExists` work.
 */
export const S3_CONDITION_KEYS = [
  's3:prefix',
  's3:delimiter',
  's3:max-keys',
  's3:x-amz-server-side-encryption',
  's3:x-amz-server-side-encryption-aws-kms-key-id',
  's3:x-amz-copy-source',
  's3:x-amz-metadata-directive',
  's3:x-amz-storage-class',
  's3:x-amz-acl',
  's3:x-amz-content-sha256',
  's3:if-match',
  's3:if-none-match',
  's3:versionid',
  's3:ExistingObjectTag/*',
  's3:RequestObjectTag/*',
  's3:RequestObjectTagKeys',
  's3:TlsVersion',
  'aws:PrincipalTag/*',
  'aws:ResourceTag/*',
  'aws:SourceVpc',
  'aws:SourceVpce',
] as const;

/** Who the caller is and how it signed: what every request of it supplies. */
export interface CallerFacts {
  principal: LocalPrincipal;
  /** Whether the caller's IAM policies decide (else it acts as the account's root user). */
  restricted: boolean;
  presigned: boolean;
  contentSha256: string | undefined;
  /** Milliseconds since the request was signed (s3:signatureAge). */
  signatureAgeMs: number;
}

function denial(principal: LocalPrincipal, p: Permission, resource: string, d: S3Decision): S3Error {
  // Same-account denials say who, what, on what and why
  // (https://docs.aws.amazon.com/AmazonS3/latest/userguide/troubleshoot-403-errors.html).
  const why =
    d.allowed === false && d.reason === 'explicit-deny'
      ? `with an explicit deny in ${d.in === 'identity-based' ? 'an identity-based' : 'a resource-based'} policy`
      : `because no identity-based policy allows the ${p.action} action`;
  return new S3Error(
    'AccessDenied',
    `User: ${principal.arn} is not authorized to perform: ${p.action} on resource: "${resource}" ${why}`,
  );
}

export class S3Access {
  constructor(
    private readonly storage: S3Storage,
    private readonly accountId: string,
    private readonly region: string,
    readonly caller: CallerFacts,
  ) {}

  get principal(): LocalPrincipal {
    return this.caller.principal;
  }

  /** The bucket a permission names; precondition: it exists. */
  private bucketOf(p: Permission): Bucket | undefined {
    return p.bucket === undefined ? undefined : this.storage.bucket(p.bucket);
  }

  private request(p: Permission, resource: string): AuthzRequest {
    const c = this.caller;
    const conditions: Record<string, readonly string[]> = {};
    for (const key of S3_CONDITION_KEYS) conditions[key] = [];
    Object.assign(conditions, {
      'aws:SecureTransport': ['false'],
      'aws:PrincipalAccount': [this.accountId],
      'aws:RequestedRegion': [this.region],
      'aws:ResourceAccount': p.bucket === undefined ? [] : [this.accountId],
      's3:ResourceAccount': p.bucket === undefined ? [] : [this.accountId],
      's3:signatureversion': ['AWS4-HMAC-SHA256'],
      's3:authType': [c.presigned ? 'REST-QUERY-STRING' : 'REST-HEADER'],
      's3:signatureAge': [String(Math.max(0, c.signatureAgeMs))],
      's3:x-amz-content-sha256': c.contentSha256 === undefined ? [] : [c.contentSha256],
      // The session's own keys (an identity pool's cognito-identity.amazonaws.com:sub...).
      ...c.principal.conditionKeys,
      ...p.conditions,
    });
    return {
      principal: c.principal.arn,
      action: p.action,
      keyArn: resource,
      keyAccountId: this.accountId,
      conditions,
    };
  }

  /** The decision on a permission, without refusing. Precondition: its bucket exists. */
  decide(p: Permission): S3Decision {
    const bucket = this.bucketOf(p);
    const resource = resourceArn(p);
    const req = this.request(p, resource);
    const { restricted, principal } = this.caller;
    const identity = restricted ? identityVerdict(principal.policies, req) : 'allow';
    if (identity === 'deny') return { allowed: false, reason: 'explicit-deny', in: 'identity-based' };
    const policy = bucket?.policyDocument;
    const ownerRoot = !restricted && OWNER_ROOT_ACTIONS.has(p.action.toLowerCase());
    if (policy !== undefined && !ownerRoot) {
      const verdict = resourcePolicyVerdict(policy, {
        ...req,
        iamAllows: () => identity === 'allow',
      });
      if (verdict.effect === 'deny') return { allowed: false, reason: 'explicit-deny', in: 'resource-based' };
      if (identity !== 'allow' && verdict.effect === 'allow') return { allowed: true, by: 'resource-based' };
    }
    return identity === 'allow'
      ? { allowed: true, by: 'identity-based' }
      : { allowed: false, reason: 'implicit-deny' };
  }

  allows(p: Permission): boolean {
    return this.decide(p).allowed;
  }

  /** Precondition of an operation: the caller may take the permission. */
  require(p: Permission): void {
    const decision = this.decide(p);
    if (!decision.allowed) throw denial(this.caller.principal, p, resourceArn(p), decision);
  }
}

/** `arn:aws:s3:::bucket`, `arn:aws:s3:::bucket/key`, or `*` for an action on no resource. */
export function resourceArn(p: Pick<Permission, 'bucket' | 'key'>): string {
  if (p.bucket === undefined) return '*';
  return p.key === undefined ? `arn:aws:s3:::${p.bucket}` : `arn:aws:s3:::${p.bucket}/${p.key}`;
}
