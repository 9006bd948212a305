import type { EncryptionContext } from '@eaas/aws-rules';
import type { EnvelopeVersion } from '../../core/envelope/index.js';
import type { Person } from '../../core/person.js';

export interface UploadOptions {
  version: EnvelopeVersion;
  /** Lifetime of the presigned URLs, in seconds, for the smallest uploads; larger get more (`linkSeconds`). */
  urlSeconds: number;
  maxUploadBytes: number;
  /** How long a seal holds an upload, in seconds. */
  leaseSeconds: number;
  /**
   * Checks, when the seal runs, that the upload's owner may still encrypt under its key and
   * context (a grant revoked since the upload began stops it); throws AccessDenied otherwise.
   */
  authorizeOwner?: (
    owner: string,
    keyArn: string,
    context: EncryptionContext,
    /** The person who started it (its condition keys decide too), when it was one. */
    person?: Person,
  ) => Promise<void>;
  now?: () => Date;
  /** Told the plaintext size of each document the seal writes into the vault (a metric). */
  onSealed?: (bytes: number) => void;
}
