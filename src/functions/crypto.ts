import { kmsClientFor } from '../compose/aws-clients.js';
import { cryptoServices } from '../compose/crypto.js';
import { keyAccess } from '../compose/key-access.js';
import { lambdaBase } from '../compose/lambda.js';
import { makeHandler } from '../handlers/crypto.js';
import { builtOnFirstCall } from './built-once.js';

/** Lambda entry of the crypto function: POST /v1/encrypt, /v1/decrypt, /v1/re-encrypt, /v1/data-keys. */
export const handler = builtOnFirstCall(async () => {
  const base = await lambdaBase('crypto');
  const kms = base.kms(kmsClientFor(base.config));
  return base.entry(
    makeHandler({ ...base.http, ...cryptoServices(keyAccess(base.config, kms), base.config) }),
  );
});
