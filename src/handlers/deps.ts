import { randomBytes } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { LoggerAuditSink } from '../audit.js';
import { EsdkEnvelope } from '../aws/esdk.js';
import { KmsKeyAdmin } from '../aws/kms-admin.js';
import { S3ObjectStore } from '../aws/s3.js';
import { S3JobObjects } from '../aws/s3-jobs.js';
import { S3QuotaStore } from '../aws/s3-quotas.js';
import { type Config, loadConfig } from '../config.js';
import { PageTokens } from '../core/page-token.js';
import type { Keys } from '../ports.js';
import { AccessControl } from '../services/access.js';
import { CryptoService, INLINE_LIMIT } from '../services/crypto.js';
import { DocumentService } from '../services/documents.js';
import { KeyService } from '../services/keys.js';
import { QuotaLedger } from '../services/quotas.js';
import { RewrapService } from '../services/rewrap.js';
import { UploadService } from '../services/uploads.js';
import type { CryptoDeps } from './crypto.js';
import type { JobsDeps } from './jobs.js';
import type { KeysDeps } from './keys.js';
import type { ObjectsDeps } from './objects.js';
import type { ReencryptDeps } from './reencrypt.js';
import type { SealDeps } from './seal.js';
import type { UploadsDeps } from './uploads.js';
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

/**
 * The listings' page tokens under the configured secret. The configuration requires it on
 * Lambda; elsewhere (a bundle run by hand) an unset secret is one made for this process only,
 * whose tokens no other instance opens.
 */
export function pageTokensFor(config: Config): PageTokens {
  return new PageTokens(config.pageTokenSecret ?? randomBytes(32));
}

/** The per-caller quotas, counted in records under `quotas/` at the root of the vault bucket. */
export function quotaLedgerFor(config: Config, s3: S3Client): QuotaLedger {
  return new QuotaLedger(new S3QuotaStore(s3, config.vaultBucket), config.quotas);
}

export function keysDepsFromConfig(): KeysDeps {
  const { config, logger, admin, access, audit } = base();
  const keys = new KeyService(admin, access, config.accountId, {
    quotas: quotaLedgerFor(config, s3ClientFor(config)),
    // Unset in AWS: no operators; every caller names aliases under its own prefix.
    aliasOperators: config.aliasOperators ?? [],
  });
  return { logger, audit, keys, pageTokens: pageTokensFor(config) };
}

export function whoamiDepsFromConfig(): WhoAmIDeps {
  const { config, logger, admin, access, audit } = base();
  return { logger, audit, admin, access, keys: new KeyService(admin, access, config.accountId) };
}

/**
 * The service's S3 client. Checksums only where S3 requires them: presigned URLs must not demand
 * a checksum the browser cannot compute in advance.
 */
export function s3ClientFor(config: Config): S3Client {
  return new S3Client({ region: config.region, requestChecksumCalculation: 'WHEN_REQUIRED' });
}

export function objectsDepsFromConfig(): ObjectsDeps {
  const { config, logger, admin, access, audit } = base();
  const store = new S3ObjectStore(s3ClientFor(config), config.vaultBucket, config.objectPrefix);
  return {
    logger,
    audit,
    access,
    documents: new DocumentService(admin, store, {
      version: config.envelopeVersion,
      urlSeconds: config.uploadUrlSeconds,
      listScanObjects: config.listScanObjects,
    }),
    pageTokens: pageTokensFor(config),
  };
}

/**
 * The upload service over the staging and vault buckets. `access` re-checks, when the seal runs,
 * that the upload's owner may still encrypt under its key and context.
 */
export function uploadServiceFor(
  config: Config,
  keys: Keys,
  s3: S3Client,
  access: AccessControl,
): UploadService {
  const vault = new S3ObjectStore(s3, config.vaultBucket, config.objectPrefix);
  return new UploadService(
    keys,
    new DocumentService(keys, vault, {
      version: config.envelopeVersion,
      urlSeconds: config.uploadUrlSeconds,
    }),
    new S3ObjectStore(s3, config.stagingBucket),
    vault,
    {
      version: config.envelopeVersion,
      urlSeconds: config.uploadUrlSeconds,
      maxUploadBytes: config.maxUploadBytes,
      leaseSeconds: config.sealLeaseSeconds,
      authorizeOwner: async (owner, keyArn, context) => {
        await access.guardFor({ arn: owner }, () => undefined)(keyArn, 'kms:Encrypt', context);
      },
    },
  );
}

export function uploadsDepsFromConfig(): UploadsDeps {
  const { config, logger, admin, access, audit } = base();
  return { logger, audit, access, uploads: uploadServiceFor(config, admin, s3ClientFor(config), access) };
}

export function sealDepsFromConfig(): SealDeps {
  const { config, logger, admin, access } = base();
  return {
    logger: {
      info: (message, extra) => logger.info(message, extra ?? {}),
      error: (message, extra) => logger.error(message, extra ?? {}),
    },
    stagingBucket: config.stagingBucket,
    uploads: uploadServiceFor(config, admin, s3ClientFor(config), access),
  };
}

/** The re-encryption job service: documents behind the object prefix, job records at the bucket root. */
export function rewrapServiceFor(
  config: Config,
  admin: KmsKeyAdmin,
  access: AccessControl,
  s3: S3Client,
  log?: (message: string, fields: Record<string, unknown>) => void,
): RewrapService {
  return new RewrapService(
    admin,
    admin,
    access,
    new S3JobObjects(s3, config.vaultBucket, config.objectPrefix),
    new S3JobObjects(s3, config.vaultBucket),
    {
      pageSize: config.rewrapPageSize,
      leaseMs: config.rewrapLeaseSeconds * 1000,
      kmsPerSecond: config.rewrapKmsPerSecond,
      quotas: quotaLedgerFor(config, s3),
      ...(log ? { log } : {}),
    },
  );
}

export function jobsDepsFromConfig(): JobsDeps {
  const { config, logger, admin, access, audit } = base();
  return { logger, audit, rewrap: rewrapServiceFor(config, admin, access, s3ClientFor(config)) };
}

export function reencryptDepsFromConfig(): ReencryptDeps {
  const { config, logger, admin, access } = base();
  return {
    rewrap: rewrapServiceFor(config, admin, access, s3ClientFor(config), (message, fields) =>
      logger.info(message, fields),
    ),
  };
}
