import { kmsClientFor, s3ClientFor } from '../compose/aws-clients.js';
import { keyAccess } from '../compose/key-access.js';
import { keysServices } from '../compose/keys.js';
import { lambdaBase } from '../compose/lambda.js';
import { makeHandler } from '../handlers/keys.js';
import { builtOnFirstCall } from './built-once.js';

/** Lambda entry of the keys function: /v1/keys..., /v1/aliases... */
export const handler = builtOnFirstCall(() => {
  const { config, http } = lambdaBase('keys');
  const keys = keysServices(config, keyAccess(config, kmsClientFor(config)), s3ClientFor(config));
  return makeHandler({ ...http, ...keys });
});
