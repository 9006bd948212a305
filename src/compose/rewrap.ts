import type { S3Client } from '@aws-sdk/client-s3';
import { S3JobObjects } from '../aws/s3-jobs.js';
import type { Config } from '../config.js';
import { RewrapService } from '../services/rewrap.js';
import type { KeyAccess } from './key-access.js';
import { quotaLedgerFor } from './quotas.js';

/**
 * The re-encryption job service (the jobs and reencrypt functions): documents behind the object
 * prefix, job records at the bucket root. `log` receives a progress line per page, `onRewrapped` each re-wrapped document (a metric).
 */
export function rewrapService(
  config: Config,
  { admin, access }: KeyAccess,
  s3: S3Client,
  log?: (message: string, fields: Record<string, unknown>) => void,
  onRewrapped?: (count: number) => void,
): RewrapService {
  return new RewrapService(
    admin,
    admin,
    access,
    new S3JobObjects(s3, config.vaultBucket, config.objectPrefix),
    new S3JobObjects(s3, config.vaultBucket),
    {
      pageSize: config.rewrapPageSize,
      leaseMs: config.rewrapLeaseSeconds * 1000,
      kmsPerSecond: config.rewrapKmsPerSecond,
      quotas: quotaLedgerFor(config, s3),
      ...(log ? { log } : {}),
      ...(onRewrapped ? { onRewrapped } : {}),
    },
  );
}
