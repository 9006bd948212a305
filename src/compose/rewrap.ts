import type { S3Client } from '@aws-sdk/client-s3';
import { S3BatchJobs } from '../aws/s3-batch-jobs.js';
import { S3JobObjects } from '../aws/s3-jobs.js';
import type { Config } from '../config.js';
import type { BatchJobs } from '../ports.js';
import { RewrapService } from '../services/rewrap.js';
import type { BatchEngineSettings } from '../services/rewrap-batch.js';
import { s3ControlClientFor } from './aws-clients.js';
import type { KeyAccess } from './key-access.js';
import { quotaLedgerFor } from './quotas.js';

/**
 * The re-encryption job service (the jobs and reencrypt functions): documents behind the object
 * prefix, job records at the bucket root. `log` receives a progress line per page, `onRewrapped` each re-wrapped document (a metric).
 * `batchJobs` (S3 Batch Operations) is given where the batch engine is deployed (`config.batch`).
 */
export function rewrapService(
  config: Config,
  { admin, access }: KeyAccess,
  s3: S3Client,
  log?: (message: string, fields: Record<string, unknown>) => void,
  onRewrapped?: (count: number) => void,
  batchJobs?: BatchJobs,
): RewrapService {
  const batch = batchSettings(config, s3, batchJobs);
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
      ...(batch ? { batch } : {}),
      ...(log ? { log } : {}),
      ...(onRewrapped ? { onRewrapped } : {}),
    },
  );
}

/** The batch engine's settings, when it is configured and a `BatchJobs` is given. */
export function batchSettings(
  config: Config,
  s3: S3Client,
  jobs: BatchJobs | undefined,
): BatchEngineSettings | undefined {
  const batch = config.batch;
  if (!batch || !jobs) return undefined;
  return {
    jobs,
    functionArn: batch.functionArn,
    roleArn: batch.roleArn,
    vaultBucket: config.vaultBucket,
    objectPrefix: config.objectPrefix,
    report: { bucket: batch.reportBucket, prefix: batch.reportPrefix },
    reports: new S3JobObjects(s3, batch.reportBucket),
    priority: batch.priority,
    threshold: batch.threshold,
  };
}

/** S3 Batch Operations (`BatchJobs`) where the batch engine is configured; `traced` wraps its client. */
export function batchJobsFor(config: Config, traced: <C>(client: C) => C): BatchJobs | undefined {
  return config.batch ? new S3BatchJobs(traced(s3ControlClientFor(config)), config.accountId) : undefined;
}
