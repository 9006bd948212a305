import { kmsClientFor, s3ClientFor } from '../compose/aws-clients.js';
import { objectsServices } from '../compose/documents.js';
import { keyAccess } from '../compose/key-access.js';
import { lambdaBase } from '../compose/lambda.js';
import { makeHandler } from '../handlers/objects.js';
import { builtOnFirstCall } from './built-once.js';

/** Lambda entry of the objects function: /v1/objects... and POST /v1/downloads. */
export const handler = builtOnFirstCall(async () => {
  const base = await lambdaBase('objects');
  const { config } = base;
  const objects = objectsServices(
    config,
    keyAccess(config, base.kms(kmsClientFor(config))),
    base.traced(s3ClientFor(config)),
  );
  return base.entry(makeHandler({ ...base.http, ...objects }));
});
