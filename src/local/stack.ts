import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { allSinks, FileAuditSink, LoggerAuditSink } from '../audit.js';
import { EsdkEnvelope } from '../aws/esdk.js';
import { KmsKeyAdmin } from '../aws/kms-admin.js';
import { S3ObjectStore } from '../aws/s3.js';
import type { Config } from '../config.js';
import { makeHandler as makeCryptoHandler } from '../handlers/crypto.js';
import { makeHandler as makeKeysHandler } from '../handlers/keys.js';
import { makeHandler as makeObjectsHandler } from '../handlers/objects.js';
import { makeHandler as makeWhoAmIHandler } from '../handlers/whoami.js';
import type { HttpDeps } from '../http/api.js';
import type { FunctionName } from '../http/routes.js';
import type { AuditSink } from '../ports.js';
import { AccessControl } from '../services/access.js';
import { CryptoService, INLINE_LIMIT } from '../services/crypto.js';
import { DocumentService } from '../services/documents.js';
import { KeyService } from '../services/keys.js';
import { type LambdaHandler, type LocalGateway, startGateway } from './gateway.js';
import { SERVICE } from './identity.js';
import { type LocalKms, startLocalKms } from './kms/index.js';
import { type LocalS3, type ObjectCreatedListener, startLocalS3 } from './s3/index.js';
import { createStaticSite } from './static-site.js';

export interface StackOptions {
  /** Override the configured ports (0 picks free ones, as tests do). */
  kmsPort?: number;
  apiPort?: number;
  s3Port?: number;
  now?: () => Date;
  /** Where audit records and errors are logged besides `audit.log`; Powertools' JSON logger on stdout by default. */
  logger?: Logger | null;
  /** Extra audit sink (tests). */
  audit?: AuditSink;
  /** Receives the local S3's object-created events (the seal handler's trigger); none by default. */
  onObjectCreated?: ObjectCreatedListener;
}

export interface LocalStack {
  kms: LocalKms;
  s3: LocalS3;
  gateway: LocalGateway;
  /** The service's own KMS client (the `eaas-service` principal). */
  serviceKms: KMSClient;
  /** The service's own S3 client to the local S3 (the `eaas-service` principal, path-style). */
  serviceS3: S3Client;
  auditLog: string;
  close(): Promise<void>;
}

/**
 * The local stack: local KMS, local S3, and the API's Lambda functions behind the local gateway, wired
 * exactly as in production except for endpoints and credentials. The service calls KMS and S3
 * as `eaas-service`; callers sign as themselves.
 */
export async function startStack(config: Config, options: StackOptions = {}): Promise<LocalStack> {
  const kms = await startLocalKms(config, {
    port: options.kmsPort ?? config.kmsPort,
    ...(options.now ? { now: options.now } : {}),
  });
  let s3: LocalS3;
  try {
    s3 = await startLocalS3(config, {
      port: options.s3Port ?? config.s3Port,
      identities: kms.identities,
      ...(options.now ? { now: options.now } : {}),
      ...(options.onObjectCreated ? { onObjectCreated: options.onObjectCreated } : {}),
    });
  } catch (error) {
    await kms.close();
    throw error;
  }
  const service = kms.identities.byName(SERVICE);
  const serviceKms = new KMSClient({
    endpoint: kms.endpoint,
    region: config.region,
    credentials: { accessKeyId: service.accessKeyId, secretAccessKey: service.secretAccessKey },
  });
  const serviceS3 = new S3Client({
    endpoint: s3.endpoint,
    region: config.region,
    forcePathStyle: true,
    credentials: { accessKeyId: service.accessKeyId, secretAccessKey: service.secretAccessKey },
  });
  const auditLog = join(config.dataDir, 'audit.log');
  const logger = options.logger === undefined ? new Logger({ serviceName: 'eaas' }) : options.logger;
  const sinks: AuditSink[] = [new FileAuditSink(auditLog)];
  if (logger) sinks.push(new LoggerAuditSink(logger));
  if (options.audit) sinks.push(options.audit);
  const deps: HttpDeps = {
    audit: allSinks(...sinks),
    logger: logger ?? { error: (message, extra) => console.error(message, JSON.stringify(extra)) },
  };
  const admin = new KmsKeyAdmin(serviceKms);
  const access = new AccessControl(admin, { ttlMs: config.authzCacheSeconds * 1000 });
  const crypto = new CryptoService(admin, new EsdkEnvelope(serviceKms, INLINE_LIMIT * 2));
  const keys = new KeyService(admin, access, config.accountId);
  const functions: Record<FunctionName, LambdaHandler> = {
    crypto: makeCryptoHandler({ ...deps, crypto, access }),
    keys: makeKeysHandler({ ...deps, keys }),
    whoami: makeWhoAmIHandler({ ...deps, keys, admin, access }),
    objects: makeObjectsHandler({
      ...deps,
      access,
      documents: new DocumentService(
        admin,
        new S3ObjectStore(serviceS3, config.vaultBucket, config.objectPrefix),
        { version: config.envelopeVersion },
      ),
    }),
  };
  let gateway: LocalGateway;
  try {
    gateway = await startGateway({
      host: config.host,
      port: options.apiPort ?? config.apiPort,
      region: config.region,
      accountId: config.accountId,
      identities: kms.identities,
      functions,
      maxSkewSeconds: config.sigv4MaxSkewSeconds,
      // The upload page at `/`; its presigned URLs point at the local S3.
      site: createStaticSite({ region: config.region, connectSources: [s3.endpoint] }),
      ...(options.now ? { now: options.now } : {}),
    });
  } catch (error) {
    serviceKms.destroy();
    serviceS3.destroy();
    await s3.close();
    await kms.close();
    throw error;
  }
  return {
    kms,
    s3,
    gateway,
    serviceKms,
    serviceS3,
    auditLog,
    async close() {
      await gateway.close();
      serviceKms.destroy();
      serviceS3.destroy();
      await s3.close();
      await kms.close();
    },
  };
}
