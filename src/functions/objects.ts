import { kmsClientFor, s3ClientFor } from '../compose/aws-clients.js';
import { objectsServices } from '../compose/documents.js';
import { keyAccess } from '../compose/key-access.js';
import { lambdaBase } from '../compose/lambda.js';
import { makeHandler } from '../handlers/objects.js';
import { builtOnFirstCall } from './built-once.js';

/** Lambda entry of the objects function: /v1/objects... and POST /v1/downloads. */
export const handler = builtOnFirstCall(() => {
  const { config, http } = lambdaBase('objects');
  const objects = objectsServices(config, keyAccess(config, kmsClientFor(config)), s3ClientFor(config));
  return makeHandler({ ...http, ...objects });
});
