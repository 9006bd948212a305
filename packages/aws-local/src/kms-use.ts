import type { LocalPrincipal } from './identity.js';

/**
 * A use of a KMS key that another service makes for its caller (S3 for SSE-KMS): the caller's own
 * identity, through the service. The local S3 asks it (s3/encryption.ts) and the local KMS
 * answers it (LocalKms.authorizeViaService); a stack wires the one to the other.
 */
export interface KmsUse {
  principal: LocalPrincipal;
  action: 'kms:GenerateDataKey' | 'kms:Decrypt';
  /** As the request or the resource names it: key id, key ARN, alias name or alias ARN. */
  keyId: string;
  /** The `kms:ViaService` of the request, e.g. `s3.us-east-1.amazonaws.com`. */
  viaService: string;
  encryptionContext: Readonly<Record<string, string>>;
}

export type KmsUseAnswer =
  | { allowed: true; keyArn: string }
  | { allowed: false; error: 'AccessDenied' | 'NotFound' | 'Disabled' | 'InvalidState'; message: string };

/**
 * Asks KMS whether the caller may use the key through the service (AWS KMS's own authorization:
 * the key policy, the caller's IAM policies and grants), and resolves the key to its ARN.
 */
export type KmsAuthorizer = (use: KmsUse) => KmsUseAnswer | Promise<KmsUseAnswer>;
