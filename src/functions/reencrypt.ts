import { kmsClientFor, s3ClientFor } from '../compose/aws-clients.js';
import { keyAccess } from '../compose/key-access.js';
import { lambdaBase } from '../compose/lambda.js';
import { batchJobsFor, rewrapService } from '../compose/rewrap.js';
import { makeHandler } from '../handlers/reencrypt.js';
import { builtOnFirstCall } from './built-once.js';

/** Lambda entry of the reencrypt function: the schedule's tick of the re-encryption jobs. */
export const handler = builtOnFirstCall(async () => {
  const base = await lambdaBase('reencrypt');
  const { config, logger, meter } = base;
  const rewrap = rewrapService(
    config,
    keyAccess(config, base.kms(kmsClientFor(config))),
    base.traced(s3ClientFor(config)),
    (m, f) => logger.info(m, f),
    (count) => meter.objectsRewrapped(count),
    // The tick reads batch jobs' progress back (and creates any a start could not).
    batchJobsFor(config, base.traced),
  );
  return base.entry(makeHandler({ rewrap }));
});
