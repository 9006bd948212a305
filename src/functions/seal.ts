import { kmsClientFor, s3ClientFor } from '../compose/aws-clients.js';
import { keyAccess } from '../compose/key-access.js';
import { lambdaBase } from '../compose/lambda.js';
import { uploadService } from '../compose/uploads.js';
import { makeHandler } from '../handlers/seal.js';
import { builtOnFirstCall } from './built-once.js';

/** Lambda entry of the seal function: the staging bucket's ObjectCreated events, and the sweep's schedule. */
export const handler = builtOnFirstCall(async () => {
  const base = await lambdaBase('seal');
  const { config, logger, meter } = base;
  return base.entry(
    makeHandler({
      logger: {
        info: (message, extra) => logger.info(message, extra ?? {}),
        error: (message, extra) => logger.error(message, extra ?? {}),
      },
      meter,
      stagingBucket: config.stagingBucket,
      uploads: uploadService(
        config,
        keyAccess(config, base.kms(kmsClientFor(config))),
        base.traced(s3ClientFor(config)),
        meter,
      ),
    }),
  );
});
