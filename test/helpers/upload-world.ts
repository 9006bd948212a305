import { DomainError } from '../../src/core/errors.js';
import type { DocumentCaller } from '../../src/services/documents.js';
import { DocumentService } from '../../src/services/documents.js';
import { type UploadOptions, UploadService } from '../../src/services/uploads.js';
import { MemoryDataKeys } from '../fakes/data-keys.js';
import { MemoryBucket } from '../fakes/s3.js';

/**
 * The document and upload services over in-memory fakes of their ports (a vault and a staging
 * bucket, KMS's data keys), with a clock the test moves and callers allowed on chosen keys: what
 * the unit tests of documents, uploads, the seal and the sweep start from.
 */

export const KEY_A = 'arn:aws:kms:us-east-1:111122223333:key/aaaaaaaa-0000-0000-0000-000000000000';
export const KEY_B = 'arn:aws:kms:us-east-1:111122223333:key/bbbbbbbb-0000-0000-0000-000000000000';
export const ALICE = 'arn:aws:iam::111122223333:user/alice';
export const BOB = 'arn:aws:iam::111122223333:user/bob';

/** A caller allowed every action on `keys` (by ARN, or `alias/a` / `alias/b`); refused on any other. */
export function callerOf(
  arn: string,
  keys: readonly string[],
  asked: { keyId: string; action: string }[] = [],
): DocumentCaller {
  return {
    arn,
    guard: async (keyId, action) => {
      asked.push({ keyId, action });
      const keyArn = keyId === 'alias/a' ? KEY_A : keyId === 'alias/b' ? KEY_B : keyId;
      if (!keys.includes(keyArn))
        throw new DomainError('AccessDenied', `${arn} may not ${action} under ${keyId}.`);
      return keyArn;
    },
  };
}

export function uploadWorld(options: Partial<UploadOptions> = {}) {
  let now = new Date('2026-05-01T10:00:00Z');
  const clock = {
    now: () => now,
    advance: (seconds: number) => {
      now = new Date(now.getTime() + seconds * 1000);
    },
  };
  const keys = new MemoryDataKeys();
  const vault = new MemoryBucket('docs/');
  const staging = new MemoryBucket();
  const documents = new DocumentService(keys.asKeys, vault, { version: 'v3' });
  const uploads = new UploadService(keys.asKeys, documents, staging, vault, {
    version: 'v3',
    urlSeconds: 900,
    maxUploadBytes: 1024 ** 4,
    leaseSeconds: 60,
    now: clock.now,
    ...options,
  });
  return { clock, keys, vault, staging, documents, uploads };
}

/** The record of upload `id` as stored in the staging bucket. */
export function recordOf(staging: MemoryBucket, id: string) {
  const stored = staging.objects.get(`records/${id}.json`);
  return stored && JSON.parse(stored.body.toString('utf8'));
}
