import { kmsClientFor, s3ClientFor } from '../compose/aws-clients.js';
import { keyAccess } from '../compose/key-access.js';
import { lambdaBase } from '../compose/lambda.js';
import { rewrapBatchTasks } from '../compose/rewrap-batch.js';
import { makeHandler } from '../handlers/rewrap-batch.js';
import { builtOnFirstCall } from './built-once.js';

/** Lambda entry of the rewrapbatch function: S3 Batch Operations re-wraps one object per task with it. */
export const handler = builtOnFirstCall(async () => {
  const base = await lambdaBase('rewrapbatch');
  const { config, logger, meter } = base;
  const tasks = rewrapBatchTasks(
    config,
    keyAccess(config, base.kms(kmsClientFor(config))),
    base.traced(s3ClientFor(config)),
    (m, f) => logger.info(m, f),
    { onRewrapped: (count) => meter.objectsRewrapped(count) },
  );
  return base.entry(makeHandler({ tasks }));
});
