import { kmsClientFor } from '../compose/aws-clients.js';
import { keyAccess } from '../compose/key-access.js';
import { lambdaBase } from '../compose/lambda.js';
import { whoamiServices } from '../compose/whoami.js';
import { makeHandler } from '../handlers/whoami.js';
import { builtOnFirstCall } from './built-once.js';

/** Lambda entry of the whoami function: GET /v1/whoami. */
export const handler = builtOnFirstCall(() => {
  const { config, http } = lambdaBase('whoami');
  return makeHandler({ ...http, ...whoamiServices(config, keyAccess(config, kmsClientFor(config))) });
});
