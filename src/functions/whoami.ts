import { kmsClientFor } from '../compose/aws-clients.js';
import { keyAccess } from '../compose/key-access.js';
import { lambdaBase } from '../compose/lambda.js';
import { whoamiServices } from '../compose/whoami.js';
import { makeHandler } from '../handlers/whoami.js';
import { builtOnFirstCall } from './built-once.js';

/** Lambda entry of the whoami function: GET /v1/whoami. */
export const handler = builtOnFirstCall(async () => {
  const base = await lambdaBase('whoami');
  return base.entry(
    makeHandler({
      ...base.http,
      ...whoamiServices(base.config, keyAccess(base.config, base.kms(kmsClientFor(base.config)))),
    }),
  );
});
