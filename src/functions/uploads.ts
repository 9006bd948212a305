import { kmsClientFor, s3ClientFor } from '../compose/aws-clients.js';
import { keyAccess } from '../compose/key-access.js';
import { lambdaBase } from '../compose/lambda.js';
import { uploadService } from '../compose/uploads.js';
import { makeHandler } from '../handlers/uploads.js';
import { builtOnFirstCall } from './built-once.js';

/** Lambda entry of the uploads function: /v1/uploads... */
export const handler = builtOnFirstCall(() => {
  const { config, http } = lambdaBase('uploads');
  const keys = keyAccess(config, kmsClientFor(config));
  return makeHandler({
    ...http,
    access: keys.access,
    uploads: uploadService(config, keys, s3ClientFor(config)),
  });
});
