import { Logger } from '@aws-lambda-powertools/logger';
import { KMSClient } from '@aws-sdk/client-kms';
import { LoggerAuditSink } from '../audit.js';
import { EsdkEnvelope } from '../aws/esdk.js';
import { KmsKeys } from '../aws/kms.js';
import { loadConfig } from '../config.js';
import { CryptoService, INLINE_LIMIT } from '../services/crypto.js';
import type { CryptoDeps } from './crypto.js';
import type { WhoAmIDeps } from './whoami.js';

/** Dependencies of the Lambda functions, from configuration: the production wiring. */
function base() {
  const config = loadConfig();
  const logger = new Logger({ serviceName: 'eaas' });
  const kms = new KMSClient({
    region: config.region,
    ...(config.kmsEndpoint ? { endpoint: config.kmsEndpoint } : {}),
  });
  return { logger, kms, audit: new LoggerAuditSink(logger) };
}

export function cryptoDepsFromConfig(): CryptoDeps {
  const { logger, kms, audit } = base();
  return {
    logger,
    audit,
    crypto: new CryptoService(new KmsKeys(kms), new EsdkEnvelope(kms, INLINE_LIMIT * 2)),
  };
}

export function whoamiDepsFromConfig(): WhoAmIDeps {
  const { logger, kms, audit } = base();
  return { logger, audit, keys: new KmsKeys(kms) };
}
