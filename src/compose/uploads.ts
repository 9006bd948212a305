import type { S3Client } from '@aws-sdk/client-s3';
import { S3ObjectStore } from '../aws/s3.js';
import type { Config } from '../config.js';
import { personConditions } from '../core/person.js';
import type { Meter } from '../observability/meter.js';
import { DocumentService } from '../services/documents.js';
import { UploadService } from '../services/uploads.js';
import type { KeyAccess } from './key-access.js';

/**
 * The upload service over the staging and vault buckets (the uploads and seal functions).
 * `access` re-checks, when the seal runs, that the upload's owner may still encrypt under its key
 * and context. `meter` (the seal) is told the bytes of each sealed document.
 */
export function uploadService(
  config: Config,
  { admin, access }: KeyAccess,
  s3: S3Client,
  meter?: Pick<Meter, 'bytesSealed'>,
): UploadService {
  const vault = new S3ObjectStore(s3, config.vaultBucket, config.objectPrefix);
  return new UploadService(
    admin,
    new DocumentService(admin, vault, {
      version: config.envelopeVersion,
      urlSeconds: config.uploadUrlSeconds,
    }),
    new S3ObjectStore(s3, config.stagingBucket),
    vault,
    {
      version: config.envelopeVersion,
      urlSeconds: config.uploadUrlSeconds,
      maxUploadBytes: config.maxUploadBytes,
      leaseSeconds: config.sealLeaseSeconds,
      ...(meter ? { onSealed: (bytes: number) => meter.bytesSealed(bytes) } : {}),
      authorizeOwner: async (owner, keyArn, context, person) => {
        const caller = { arn: owner, conditions: personConditions(person) };
        await access.guardFor(caller, () => undefined)(keyArn, 'kms:Encrypt', context);
      },
    },
    // The vault's root: verified uploads complete at a reserved name there (never a document's).
    new S3ObjectStore(s3, config.vaultBucket),
  );
}
