import type { S3Client } from '@aws-sdk/client-s3';
import { S3JobObjects } from '../aws/s3-jobs.js';
import type { Config } from '../config.js';
import { type BatchTaskOptions, RewrapBatchTasks } from '../services/rewrap-batch-task.js';
import { JobRecords } from '../services/rewrap-records.js';
import type { KeyAccess } from './key-access.js';

/**
 * The per-object function of the batch engine: documents behind the object prefix, job records
 * at the bucket root (read only). Its own retries are few (3 attempts): S3 Batch Operations
 * invokes a task that answered TemporaryFailure again.
 */
export function rewrapBatchTasks(
  config: Config,
  { admin, access }: KeyAccess,
  s3: S3Client,
  log?: (message: string, fields: Record<string, unknown>) => void,
  /** The metric of objects re-wrapped (Lambda); the local stack's test hook `step`. */
  hooks: Pick<BatchTaskOptions, 'onRewrapped' | 'step'> = {},
): RewrapBatchTasks {
  const now = () => new Date();
  const records = new JobRecords(new S3JobObjects(s3, config.vaultBucket), now, () => undefined);
  return new RewrapBatchTasks(
    admin,
    access,
    new S3JobObjects(s3, config.vaultBucket, config.objectPrefix),
    records,
    {
      vaultBucket: config.vaultBucket,
      objectPrefix: config.objectPrefix,
      kmsPerSecond: config.rewrapKmsPerSecond,
      retry: { attempts: 3 },
      now,
      ...(log ? { log } : {}),
      ...(hooks.onRewrapped ? { onRewrapped: hooks.onRewrapped } : {}),
      ...(hooks.step ? { step: hooks.step } : {}),
    },
  );
}
