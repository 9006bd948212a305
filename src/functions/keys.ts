import { kmsClientFor, s3ClientFor } from '../compose/aws-clients.js';
import { keyAccess } from '../compose/key-access.js';
import { keysServices } from '../compose/keys.js';
import { lambdaBase } from '../compose/lambda.js';
import { makeHandler } from '../handlers/keys.js';
import { builtOnFirstCall } from './built-once.js';

/** Lambda entry of the keys function: /v1/keys..., /v1/aliases... */
export const handler = builtOnFirstCall(async () => {
  const base = await lambdaBase('keys');
  const { config } = base;
  const keys = keysServices(
    config,
    keyAccess(config, base.kms(kmsClientFor(config))),
    base.traced(s3ClientFor(config)),
  );
  return base.entry(makeHandler({ ...base.http, ...keys }));
});
