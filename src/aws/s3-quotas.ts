import { createHash } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DomainError } from '../core/errors.js';
import type { QuotaStore } from '../ports.js';
import { statusOf } from './s3.js';

/** The key prefix of quota records in the vault bucket; document keys may not start with it. */
export const QUOTAS_PREFIX = 'quotas/';

/**
 * The quota ledger's records over `@aws-sdk/client-s3`: one JSON object per caller at
 * `quotas/<sha256 of the principal ARN>.json` at the root of the vault bucket, written with S3's
 * conditional writes (If-Match the ETag read, If-None-Match: * for a first record). A lost race is
 * 412 PreconditionFailed, or 409 ConditionalRequestConflict when two conditional writes of one key
 * overlap (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html); both
 * answer false, and the ledger reads again. Reading a missing record is a 404 only with
 * s3:ListBucket on the bucket (403 otherwise), which the functions' roles have.
 */
export class S3QuotaStore implements QuotaStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  private key(principal: string): string {
    return `${QUOTAS_PREFIX}${createHash('sha256').update(principal).digest('hex')}.json`;
  }

  async read(principal: string) {
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.key(principal) }),
      );
      return { text: (await out.Body?.transformToString('utf8')) ?? '', version: out.ETag ?? '' };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw failure(error);
    }
  }

  async write(principal: string, text: string, version: string | undefined): Promise<boolean> {
    const body = Buffer.from(text, 'utf8');
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.key(principal),
          Body: body,
          ContentLength: body.length,
          ContentType: 'application/json',
          ...(version === undefined ? { IfNoneMatch: '*' } : { IfMatch: version }),
        }),
      );
      return true;
    } catch (error) {
      const status = statusOf(error);
      // 404: If-Match on a record that is gone; read again.
      if (status === 412 || status === 409 || status === 404) return false;
      throw failure(error);
    }
  }
}

function failure(error: unknown): DomainError {
  const status = statusOf(error);
  if (status === 503 || (error as { name?: string })?.name === 'SlowDown')
    return new DomainError('Throttled', 'S3 is throttling requests; retry with backoff.', undefined, {
      cause: error,
    });
  return new DomainError('DependencyFailure', 'The quota store did not answer as expected.', undefined, {
    cause: error,
  });
}
