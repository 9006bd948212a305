import { kmsClientFor, s3ClientFor } from '../compose/aws-clients.js';
import { keyAccess } from '../compose/key-access.js';
import { lambdaBase } from '../compose/lambda.js';
import { rewrapService } from '../compose/rewrap.js';
import { makeHandler } from '../handlers/reencrypt.js';
import { builtOnFirstCall } from './built-once.js';

/** Lambda entry of the reencrypt function: the schedule's tick of the re-encryption jobs. */
export const handler = builtOnFirstCall(() => {
  const { config, logger } = lambdaBase('reencrypt');
  const rewrap = rewrapService(config, keyAccess(config, kmsClientFor(config)), s3ClientFor(config), (m, f) =>
    logger.info(m, f),
  );
  return makeHandler({ rewrap });
});
