import { createHash } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { DomainError } from '../core/errors.js';
import type { QuotaStore } from '../ports.js';
import { S3Bucket } from './s3-bucket.js';
import { isConflict } from './s3-errors.js';

/** The key prefix of quota records in the vault bucket; document keys may not start with it. */
export const QUOTAS_PREFIX = 'quotas/';

/**
 * The quota ledger's records over `@aws-sdk/client-s3`: one JSON object per caller at
 * `quotas/<sha256 of the principal ARN>.json` at the root of the vault bucket, written with S3's
 * conditional writes (If-Match the ETag read, If-None-Match: * for a first record). A lost race is
 * 412 PreconditionFailed; 409 ConditionalRequestConflict, when two conditional writes of one key
 * overlap, is a write to retry (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html).
 * Both answer false, and the ledger reads again (and writes again, within its attempts). Reading a missing record is a 404 only with
 * s3:ListBucket on the bucket (403 otherwise), which the functions' roles have.
 */
export class S3QuotaStore implements QuotaStore {
  private readonly records: S3Bucket;

  constructor(client: S3Client, bucket: string) {
    this.records = new S3Bucket(client, bucket);
  }

  private key(principal: string): string {
    return `${QUOTAS_PREFIX}${createHash('sha256').update(principal).digest('hex')}.json`;
  }

  async read(principal: string) {
    const found = await this.records.readText(this.key(principal));
    return found && { text: found.text, version: found.etag };
  }

  async write(principal: string, text: string, version: string | undefined): Promise<boolean> {
    try {
      await this.records.writeText(this.key(principal), text, {
        contentType: 'application/json',
        ...(version === undefined ? { ifNoneMatch: '*' as const } : { ifMatch: version }),
      });
      return true;
    } catch (error) {
      // NotFound: If-Match on a record that is gone; read again.
      if (error instanceof DomainError && (error.code === 'PreconditionFailed' || error.code === 'NotFound'))
        return false;
      if (isConflict(error)) return false;
      throw error;
    }
  }
}
