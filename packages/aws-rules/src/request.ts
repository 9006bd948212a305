import type { EncryptionContext } from './encryption-context.js';

/**
 * A request as the policy evaluator and the grants see it: a KMS request, or another service's
 * (S3's) with its resource's ARN in `keyArn` and the resource's account in `keyAccountId`.
 */
export interface AuthzRequest {
  /** The caller, as authenticated; assumed-role sessions are normalised to their role. */
  principal: string;
  /** The action, e.g. `kms:Encrypt`, `s3:GetObject`. */
  action: string;
  /** ARN of the key (or other resource) acted on; `*` for actions on no resource. */
  keyArn: string;
  /** The account that owns the key (or resource). */
  keyAccountId: string;
  encryptionContext?: EncryptionContext | undefined;
  grantIsForAWSResource?: boolean | undefined;
  /**
   * Further condition keys of the request, as the service documents them in its "Actions,
   * resources, and condition keys" page (e.g. `aws:ResourceTag/team`, `kms:KeySpec`,
   * `s3:prefix`, `aws:ResourceAccount`). Keys are matched case-insensitively; a key listed here
   * with no values is present in the request's vocabulary but absent from this request (so
   * `Null: true` holds and `...IfExists` passes); `family/*` (e.g. `aws:ResourceTag/*`) with no
   * values makes every key of that family known, absent unless listed. A key neither here nor built in is not
   * understood: an Allow using it matches nothing, a Deny using it denies.
   */
  conditions?: Readonly<Record<string, readonly string[]>> | undefined;
  /**
   * What the caller's identity-based (IAM) policies allow, consulted only where the key policy
   * delegates to the account ("the account root: IAM decides"). Absent: IAM allows nothing.
   */
  iamAllows?: ((action: string) => boolean) | undefined;
}
