import { Logger } from '@aws-lambda-powertools/logger';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { LoggerAuditSink } from '../audit.js';
import { EsdkEnvelope } from '../aws/esdk.js';
import { KmsKeyAdmin } from '../aws/kms-admin.js';
import { S3ObjectStore } from '../aws/s3.js';
import { loadConfig } from '../config.js';
import { AccessControl } from '../services/access.js';
import { CryptoService, INLINE_LIMIT } from '../services/crypto.js';
import { DocumentService } from '../services/documents.js';
import { KeyService } from '../services/keys.js';
import type { CryptoDeps } from './crypto.js';
import type { KeysDeps } from './keys.js';
import type { ObjectsDeps } from './objects.js';
import type { WhoAmIDeps } from './whoami.js';

/** Dependencies of the Lambda functions, from configuration: the production wiring. */
function base() {
  const config = loadConfig();
  const logger = new Logger({ serviceName: 'eaas' });
  const kms = new KMSClient({
    region: config.region,
    ...(config.kmsEndpoint ? { endpoint: config.kmsEndpoint } : {}),
  });
  const admin = new KmsKeyAdmin(kms);
  const access = new AccessControl(admin, { ttlMs: config.authzCacheSeconds * 1000 });
  return { config, logger, kms, admin, access, audit: new LoggerAuditSink(logger) };
}

export function cryptoDepsFromConfig(): CryptoDeps {
  const { logger, kms, admin, access, audit } = base();
  return {
    logger,
    audit,
    access,
    crypto: new CryptoService(admin, new EsdkEnvelope(kms, INLINE_LIMIT * 2)),
  };
}

export function keysDepsFromConfig(): KeysDeps {
  const { config, logger, admin, access, audit } = base();
  return { logger, audit, keys: new KeyService(admin, access, config.accountId) };
}

export function whoamiDepsFromConfig(): WhoAmIDeps {
  const { config, logger, admin, access, audit } = base();
  return { logger, audit, admin, access, keys: new KeyService(admin, access, config.accountId) };
}

export function objectsDepsFromConfig(): ObjectsDeps {
  const { config, logger, admin, access, audit } = base();
  const s3 = new S3Client({ region: config.region });
  const store = new S3ObjectStore(s3, config.vaultBucket, config.objectPrefix);
  return {
    logger,
    audit,
    access,
    documents: new DocumentService(admin, store, { version: config.envelopeVersion }),
  };
}
