import type { EncryptionContext } from './encryption-context.js';

/** A KMS request as the policy evaluator and the grants see it. */
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
