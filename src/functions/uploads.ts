import { kmsClientFor, s3ClientFor } from '../compose/aws-clients.js';
import { keyAccess } from '../compose/key-access.js';
import { lambdaBase } from '../compose/lambda.js';
import { uploadService } from '../compose/uploads.js';
import { makeHandler } from '../handlers/uploads.js';
import { builtOnFirstCall } from './built-once.js';

/** Lambda entry of the uploads function: /v1/uploads... */
export const handler = builtOnFirstCall(async () => {
  const base = await lambdaBase('uploads');
  const { config } = base;
  const keys = keyAccess(config, base.kms(kmsClientFor(config)));
  return base.entry(
    makeHandler({
      ...base.http,
      access: keys.access,
      uploads: uploadService(config, keys, base.traced(s3ClientFor(config))),
    }),
  );
});
