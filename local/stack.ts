import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { KMSClient } from '@aws-sdk/client-kms';
import { PutBucketCorsCommand, PutBucketPolicyCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  type BatchFunction,
  type BatchInvocationEvent,
  KEY_MANAGER,
  type LocalIdentityPool,
  type LocalKms,
  type LocalKmsOptions,
  type LocalLogs,
  type LocalRole,
  type LocalS3,
  type LocalS3Control,
  type LocalS3Options,
  type LocalUserPool,
  type ObjectCreatedListener,
  SERVICE,
  startLocalKms,
  startLocalLogs,
  startLocalS3,
  startLocalS3Control,
} from '@eaas/aws-local';
import type { S3EventRecord } from 'aws-lambda';
import { allSinks, FileAuditSink, LoggerAuditSink } from '../src/audit.js';
import { S3BatchJobs } from '../src/aws/s3-batch-jobs.js';
import { kmsClientFor, logsClientFor, s3ClientFor, s3ControlClientFor } from '../src/compose/aws-clients.js';
import { cryptoServices } from '../src/compose/crypto.js';
import { objectsServices, streamsServices } from '../src/compose/documents.js';
import { keyAccess } from '../src/compose/key-access.js';
import { keysServices } from '../src/compose/keys.js';
import { auditSink } from '../src/compose/lambda.js';
import { pageTokensFor } from '../src/compose/page-tokens.js';
import { rewrapService } from '../src/compose/rewrap.js';
import { rewrapBatchTasks } from '../src/compose/rewrap-batch.js';
import { uploadService } from '../src/compose/uploads.js';
import { whoamiServices } from '../src/compose/whoami.js';
import type { Config } from '../src/config.js';
import type { S3BatchEventV2 } from '../src/core/rewrap-batch.js';
import { makeHandler as makeCryptoHandler } from '../src/handlers/crypto.js';
import { makeHandler as makeJobsHandler } from '../src/handlers/jobs.js';
import { makeHandler as makeKeysHandler } from '../src/handlers/keys.js';
import { makeHandler as makeObjectsHandler } from '../src/handlers/objects.js';
import { makeHandler as makeRewrapBatchHandler } from '../src/handlers/rewrap-batch.js';
import { makeHandler as makeSealHandler } from '../src/handlers/seal.js';
import { makeHandler as makeStreamsHandler } from '../src/handlers/streams.js';
import { makeHandler as makeUploadsHandler } from '../src/handlers/uploads.js';
import { makeHandler as makeWhoAmIHandler } from '../src/handlers/whoami.js';
import type { HttpDeps } from '../src/http/api.js';
import type { FunctionName } from '../src/http/routes.js';
import type { AuditSink } from '../src/ports.js';
import { SERVICE_TAG } from '../src/services/keys/shared.js';
import type { RewrapService } from '../src/services/rewrap.js';
import type { UploadService } from '../src/services/uploads.js';
import { readApiSettings } from './api-settings.js';
import { PORT_SETTINGS, type StackConfig } from './config.js';
import {
  DEFAULT_KEY_ALIAS,
  localBatch,
  localKmsOptions,
  localS3Options,
  localValues,
} from './emulator-options.js';
import {
  type GatewayOptions,
  type LambdaHandler,
  type LocalGateway,
  type StreamingLambdaHandler,
  startGateway,
} from './gateway.js';
import { loadOrCreatePageTokenSecret } from './page-token-secret.js';
import { portInUse } from './port-in-use.js';
import { LOCAL_RESPONSE_STREAMS } from './response-stream.js';
import { type SignInPools, startSignIn } from './sign-in.js';
import { createStaticSite } from './static-site.js';
import {
  readBucketPolicy,
  readRole,
  readRoleList,
  readServiceTag,
  readTemplateRoles,
} from './template-roles.js';

/** The audit log group of the local stack unless EAAS_AUDIT_LOG_GROUP names another. */
export const LOCAL_AUDIT_LOG_GROUP = '/eaas/local/audit';

export interface StackOptions {
  /** Override the configured ports (0 picks free ones, as tests do). */
  kmsPort?: number;
  apiPort?: number;
  s3Port?: number;
  logsPort?: number;
  s3ControlPort?: number;
  /**
   * The functions S3 Batch Operations jobs may invoke (LambdaInvoke), by function ARN, run in
   * process by the local S3 Control; none by default.
   */
  batchFunctions?: Record<string, BatchFunction>;
  /** Replaces EAAS_BATCH_CONCURRENCY (invocations in flight per batch job). */
  batchConcurrency?: number;
  /**
   * Wraps the rewrapbatch function as S3 Batch Operations invokes it (tests of faults: an
   * invocation made twice, a function that crashes after its work and before its answer); the
   * default invokes it once.
   */
  rewrapBatch?: (event: BatchInvocationEvent, invokeDefault: BatchFunction) => Promise<unknown>;
  /**
   * Called by the rewrapbatch function after each durable step of an object (`re-encrypted`,
   * `instruction-written`, `metadata-copied`), as the scheduled engine's `step`; may throw to
   * simulate a crash mid-task, or write to race the copy.
   */
  rewrapBatchStep?: (name: string, key?: string) => void | Promise<void>;
  userPoolPort?: number;
  identityPoolPort?: number;
  /** Lifetimes of the user pool's tokens (tests shorten them); Cognito's defaults otherwise. */
  tokenSeconds?: { id?: number; access?: number; refresh?: number };
  /** Lifetime of the identity pool's credentials (default 3600). */
  credentialSeconds?: number;
  /** The identity pool's authenticated role; serverless.yml's PeopleRole by default. */
  peopleRole?: LocalRole;
  now?: () => Date;
  /** Where audit records and errors are logged besides `audit.log`; Powertools' JSON logger on stdout by default. */
  logger?: Logger | null;
  /** Extra audit sink (tests). */
  audit?: AuditSink;
  /** Also receives the local S3's object-created events (the seal function gets those of the staging bucket). */
  onObjectCreated?: ObjectCreatedListener;
  /** Sees every request the local S3 answered (tests count what was read). */
  onS3Request?: LocalS3Options['onRequest'];
  /** Sees every request the local KMS answered, with the principal (tests check who called). */
  kmsOnRequest?: LocalKmsOptions['onRequest'];
  /** The functions' roles; read from serverless.yml by default (tests take one away to see it fail). */
  roles?: Record<string, LocalRole>;
  /** Sees each API Gateway proxy event before its function (tests check the caller's identity in it). */
  onApiEvent?: GatewayOptions['onEvent'];
  /** The bound on a streamed answer (GET /v1/streams/...), 15 minutes unless given. */
  streamTimeoutMs?: number;
  /** The most plaintext GET /v1/streams/... streams (MAX_STREAMED_BYTES unless given). */
  maxStreamedBytes?: number;
  /** Replaces some of the API settings read from serverless.yml (tests: low throttles, another binary list). */
  api?: Partial<NonNullable<GatewayOptions['api']>>;
  /** Replaces the seal function on staging events (tests of faults); the default seals. */
  seal?: (
    record: S3EventRecord,
    sealDefault: (record: S3EventRecord) => Promise<unknown>,
  ) => Promise<unknown>;
}

export interface LocalStack {
  kms: LocalKms;
  s3: LocalS3;
  /** The local CloudWatch Logs, holding the audit log group the functions write to. */
  logs: LocalLogs;
  /** The local S3 Control: S3 Batch Operations jobs, run as their role against the local S3. */
  s3Control: LocalS3Control;
  gateway: LocalGateway;
  /** The local Cognito user pool the page signs people in with (its seeded person, on the first start). */
  userPool: LocalUserPool;
  /** The local Cognito identity pool that gives signed-in people PeopleRole's temporary credentials. */
  identityPool: LocalIdentityPool;
  /** The identity pool's authenticated role, as the stack runs it. */
  peopleRole: LocalRole;
  /** The service's own KMS client (the `eaas-service` principal). */
  serviceKms: KMSClient;
  /** The service's own S3 client to the local S3 (the `eaas-service` principal, path-style). */
  serviceS3: S3Client;
  /** The upload service the uploads and seal functions use (tests drive its sweep). */
  uploads: UploadService;
  /** The re-encryption job service the jobs function and the local timer use. */
  rewrap: RewrapService;
  /** One tick of the re-encryption schedule, as the timer runs it (joins a tick under way). */
  rewrapTick(): Promise<string[]>;
  /** The page's origin: the gateway's address, which the buckets' CORS allows. */
  webOrigin: string;
  auditLog: string;
  /** The audit log group in the local CloudWatch Logs, each function writing its own streams. */
  auditLogGroup: string;
  close(): Promise<void>;
}

/**
 * The local stack: local KMS, local S3, and the API's Lambda functions behind the local gateway, wired
 * exactly as in production except for endpoints and credentials. The service calls KMS and S3
 * as `eaas-service`; callers sign as themselves.
 */
export async function startStack(config: StackConfig, options: StackOptions = {}): Promise<LocalStack> {
  const roles = options.roles ?? readTemplateRoles(localValues(config));
  // The role S3 Batch Operations assumes for the service's re-encryption jobs (BatchOperationsRole
  // of serverless.yml): no function runs as it, the local S3 Control runs their jobs as it.
  const batchRole = readRole(localValues(config), 'BatchOperationsRole');
  const stackRoles = [...Object.values(roles).filter((r) => r.arn !== batchRole.arn), batchRole];
  const batch = localBatch(config, batchRole.arn);
  const serviceTag = readServiceTag(localValues(config));
  // The roles the key policies name for the service's own use, as the template names them
  // (EAAS_SERVICE_ROLE_ARNS), and the local `eaas-service` principal that tests use to look behind
  // the API (it stands for the service, and is no caller's).
  const servicePrincipal = `arn:aws:iam::${config.accountId}:role/${SERVICE}`;
  const serviceRoleArns = config.serviceRoleArns ?? [
    ...readRoleList(roles, 'EAAS_SERVICE_ROLE_ARNS'),
    servicePrincipal,
  ];
  // Not eaas-service: the administration role is denied the key's use, which tests need of it.
  const adminRoleArns = config.adminRoleArns ?? readRoleList(roles, 'EAAS_ADMIN_ROLE_ARNS');
  // The KMS's seed key carries the service's key policy, and its upgrade (emulator-options.ts).
  const kmsPort = options.kmsPort ?? config.kmsPort;
  const kms = await portInUse(PORT_SETTINGS.kmsPort, config.host, kmsPort, () =>
    startLocalKms({
      ...localKmsOptions(config, {
        tag: serviceTag,
        serviceRoles: serviceRoleArns,
        adminRoles: adminRoleArns,
      }),
      // Each function's role, read from serverless.yml: what it may do here is what it may in AWS.
      roles: stackRoles,
      port: kmsPort,
      ...(options.kmsOnRequest ? { onRequest: options.kmsOnRequest } : {}),
      ...(options.now ? { now: options.now } : {}),
    }),
  );
  // A seed key made before the reserved tag existed gets it, as an operator tags a deployment's
  // older keys (docs/deploying.md, "Least privilege").
  const seedAlias = kms.store.findAlias(DEFAULT_KEY_ALIAS);
  const seed = seedAlias ? kms.store.findKey(seedAlias.targetKeyId) : undefined;
  if (seed && !seed.tags.some((t) => t.TagKey === SERVICE_TAG))
    kms.store.updateKey(seed, (k) => {
      k.tags = [...k.tags, { TagKey: SERVICE_TAG, TagValue: serviceTag }];
    });
  // The seal function, bound once the services exist; the S3 delivers after each committed write.
  let sealFunction: ((record: S3EventRecord) => Promise<unknown>) | undefined;
  const onObjectCreated: ObjectCreatedListener = async (record) => {
    await options.onObjectCreated?.(record);
    if (record.s3.bucket.name !== config.stagingBucket || !sealFunction) return;
    const seal = sealFunction;
    await (options.seal ? options.seal(record, seal) : seal(record));
  };
  let s3: LocalS3;
  try {
    const s3Port = options.s3Port ?? config.s3Port;
    s3 = await portInUse(PORT_SETTINGS.s3Port, config.host, s3Port, () =>
      startLocalS3({
        ...localS3Options(config, kms.identities),
        // The functions' roles get in S3 what their serverless.yml policies give them, as in AWS;
        // SSE-KMS is decided by the local KMS for the caller, through S3 (kms:ViaService).
        roles: stackRoles,
        kmsAuthorize: (use) => kms.authorizeViaService(use),
        port: s3Port,
        ...(options.now ? { now: options.now } : {}),
        ...(options.onS3Request ? { onRequest: options.onS3Request } : {}),
        onObjectCreated,
      }),
    );
  } catch (error) {
    await kms.close();
    throw error;
  }
  // The audit log group, as the template's AuditLogGroup (serverless.yml).
  let logs: LocalLogs;
  try {
    const logsPort = options.logsPort ?? config.logsPort;
    logs = await portInUse(PORT_SETTINGS.logsPort, config.host, logsPort, () =>
      startLocalLogs({
        dataDir: config.dataDir,
        identities: kms.identities,
        accountId: config.accountId,
        region: config.region,
        host: config.host,
        port: logsPort,
        maxSkewSeconds: config.sigv4MaxSkewSeconds,
        logGroups: [{ name: config.auditLogGroup ?? LOCAL_AUDIT_LOG_GROUP }],
        ...(options.now ? { now: options.now } : {}),
      }),
    );
  } catch (error) {
    await s3.close();
    await kms.close();
    throw error;
  }
  // The rewrapbatch function, bound once the services exist; S3 Batch Operations invokes it.
  let rewrapBatchFunction: BatchFunction | undefined;
  const rewrapBatch: BatchFunction = async (event) => {
    if (!rewrapBatchFunction) throw new Error('the rewrapbatch function is not ready');
    return rewrapBatchFunction(event);
  };
  // S3 Batch Operations: jobs run as their role (one of the template's) against the local S3,
  // invoking the functions registered here in process.
  let s3Control: LocalS3Control;
  try {
    const s3ControlPort = options.s3ControlPort ?? config.s3ControlPort;
    s3Control = await portInUse(PORT_SETTINGS.s3ControlPort, config.host, s3ControlPort, () =>
      startLocalS3Control({
        dataDir: config.dataDir,
        identities: kms.identities,
        s3Endpoint: s3.endpoint,
        roles: stackRoles,
        // The service's rewrapbatch function, bound below once the services exist, and the caller's.
        functions: { [batch.functionArn]: (event) => rewrapBatch(event), ...options.batchFunctions },
        concurrency: options.batchConcurrency ?? config.batchConcurrency,
        accountId: config.accountId,
        region: config.region,
        host: config.host,
        port: s3ControlPort,
        maxSkewSeconds: config.sigv4MaxSkewSeconds,
        ...(options.now ? { now: options.now } : {}),
      }),
    );
  } catch (error) {
    await logs.close();
    await s3.close();
    await kms.close();
    throw error;
  }
  // The service's settings as a Lambda function reads them, with the emulators' endpoints, and
  // two local defaults. Unset, the alias operators are the seed's administrator (who gives out
  // shared names, alias/acme-demo of the README); the page-token secret is kept in the data dir,
  // so that a restart leaves page tokens valid.
  const settings: Config = {
    ...config,
    kmsEndpoint: kms.endpoint,
    s3Endpoint: s3.endpoint,
    logsEndpoint: logs.endpoint,
    // The batch engine (S3 Batch Operations) on the local S3 Control, as serverless.yml sets it.
    s3ControlEndpoint: s3Control.endpoint,
    batch,
    auditLogGroup: config.auditLogGroup ?? LOCAL_AUDIT_LOG_GROUP,
    aliasOperators: config.aliasOperators ?? [kms.identities.byName(KEY_MANAGER).arn],
    // The reserved key tag the roles are scoped by, as the template resolves it here (eaas-local).
    serviceTag,
    serviceRoleArns,
    adminRoleArns,
    pageTokenSecret: config.pageTokenSecret ?? loadOrCreatePageTokenSecret(config.dataDir),
  };
  // The all-powerful service principal, for tests that look behind the API; no function uses it.
  const service = kms.identities.byName(SERVICE);
  const credentials = { accessKeyId: service.accessKeyId, secretAccessKey: service.secretAccessKey };
  const serviceKms = kmsClientFor(settings, credentials);
  const serviceS3 = s3ClientFor(settings, credentials);
  // Each function calls KMS, S3 and CloudWatch Logs as its own role, as on Lambda.
  const clients: { destroy(): void }[] = [];
  const as = (fn: keyof typeof roles) => {
    const p = kms.identities.byName(roles[fn]?.name ?? '');
    const c = { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey };
    const out = {
      kms: kmsClientFor(settings, c),
      s3: s3ClientFor(settings, c),
      logs: logsClientFor(settings, c),
      control: s3ControlClientFor(settings, c),
    };
    clients.push(out.kms, out.s3, out.logs, out.control);
    return {
      ...out,
      keys: keyAccess(settings, out.kms),
      batchJobs: new S3BatchJobs(out.control, settings.accountId),
    };
  };
  const auditLog = join(config.dataDir, 'audit.log');
  const logger = options.logger === undefined ? new Logger({ serviceName: 'eaas' }) : options.logger;
  const sinks: AuditSink[] = [new FileAuditSink(auditLog)];
  if (logger) sinks.push(new LoggerAuditSink(logger));
  if (options.audit) sinks.push(options.audit);
  // Each function writes its own streams of the audit log group, as on Lambda, besides audit.log.
  const auditLogger = logger ?? new Logger({ serviceName: 'eaas', logLevel: 'SILENT' });
  const deps = (fn: FunctionName, logs: CloudWatchLogsClient): HttpDeps => ({
    audit: allSinks(...sinks, auditSink(settings, fn, auditLogger, logs)),
    corsOrigin: settings.corsOrigin,
    logger: logger ?? { error: (message, extra) => console.error(message, JSON.stringify(extra)) },
  });
  // The same composition root as the Lambda functions, one per function.
  const tokens = { now: options.now };
  const sealRole = as('seal');
  const uploads = uploadService(settings, sealRole.keys, sealRole.s3);
  const seal = makeSealHandler({
    uploads,
    stagingBucket: config.stagingBucket,
    logger: {
      info: () => undefined,
      error: (message, extra) => logger?.error(message, extra ?? {}),
    },
  });
  sealFunction = (record) => seal({ Records: [record] });
  // Re-encryption jobs: a progress line per page on the local log; the timer below runs the ticks.
  const reencryptRole = as('reencrypt');
  const rewrap = rewrapService(
    settings,
    reencryptRole.keys,
    reencryptRole.s3,
    (message, fields) => logger?.info(message, fields),
    undefined,
    reencryptRole.batchJobs,
  );
  // The batch engine's per-object function, as its own role (src/functions/rewrap-batch.ts).
  const batchFn = as('rewrapbatch');
  const batchHandler = makeRewrapBatchHandler({
    tasks: rewrapBatchTasks(
      settings,
      batchFn.keys,
      batchFn.s3,
      (message, fields) => logger?.info(message, fields),
      options.rewrapBatchStep ? { step: options.rewrapBatchStep } : {},
    ),
  });
  const invokeBatch: BatchFunction = (event) => batchHandler(event as unknown as S3BatchEventV2);
  rewrapBatchFunction = options.rewrapBatch
    ? (event) => options.rewrapBatch?.(event, invokeBatch) ?? invokeBatch(event)
    : invokeBatch;
  let closed = false;
  let ticking: Promise<string[]> | undefined;
  const rewrapTick = (): Promise<string[]> => {
    if (closed) return Promise.resolve([]);
    ticking ??= rewrap
      .tick(() => closed)
      .finally(() => {
        ticking = undefined;
      });
    return ticking;
  };
  const backgroundTick = () => {
    rewrapTick().catch((error: unknown) =>
      logger?.error('re-encryption tick failed', { error: (error as Error)?.message }),
    );
  };
  const u = as('uploads');
  const j = as('jobs');
  const c = as('crypto');
  const k = as('keys');
  const w = as('whoami');
  const o = as('objects');
  const st = as('streams');
  const functions: Record<FunctionName, LambdaHandler | StreamingLambdaHandler> = {
    uploads: makeUploadsHandler({
      ...deps('uploads', u.logs),
      access: u.keys.access,
      uploads: uploadService(settings, u.keys, u.s3),
    }),
    jobs: makeJobsHandler({
      ...deps('jobs', j.logs),
      rewrap: rewrapService(
        settings,
        j.keys,
        j.s3,
        (message, fields) => logger?.info(message, fields),
        undefined,
        j.batchJobs,
      ),
      pageTokens: pageTokensFor(settings, tokens),
      // A new job starts at once rather than at the next tick (unless the timer is off).
      onJobCreated: () => {
        if (config.rewrapTickSeconds > 0) setImmediate(backgroundTick);
      },
    }),
    crypto: makeCryptoHandler({ ...deps('crypto', c.logs), ...cryptoServices(c.keys, settings) }),
    keys: makeKeysHandler({ ...deps('keys', k.logs), ...keysServices(settings, k.keys, k.s3, tokens) }),
    whoami: makeWhoAmIHandler({ ...deps('whoami', w.logs), ...whoamiServices(settings, w.keys) }),
    objects: makeObjectsHandler({
      ...deps('objects', o.logs),
      ...objectsServices(settings, o.keys, o.s3, tokens),
    }),
    streams: makeStreamsHandler({
      ...deps('streams', st.logs),
      ...streamsServices(settings, st.keys, st.s3),
      responseStreams: LOCAL_RESPONSE_STREAMS,
      ...(options.maxStreamedBytes !== undefined ? { maxBytes: options.maxStreamedBytes } : {}),
    }),
  };
  let gateway: LocalGateway;
  // The sign-in pools start once the page's origin (the gateway's) is known; the page's config.json
  // and CSP name them from then on.
  let signIn: SignInPools | undefined;
  try {
    const apiPort = options.apiPort ?? config.apiPort;
    gateway = await portInUse(PORT_SETTINGS.apiPort, config.host, apiPort, () =>
      startGateway({
        host: config.host,
        port: apiPort,
        region: config.region,
        accountId: config.accountId,
        identities: kms.identities,
        functions,
        maxSkewSeconds: config.sigv4MaxSkewSeconds,
        maxBodyBytesInFlight: config.gatewayBodyBytesInFlight,
        ...(options.streamTimeoutMs !== undefined ? { streamTimeoutMs: options.streamTimeoutMs } : {}),
        // serverless.yml's binary media types, throttling and CORS headers; the origin is the
        // service's setting (EAAS_CORS_ORIGIN), unset locally unless given: the page is same-origin.
        api: { ...readApiSettings(), corsOrigin: settings.corsOrigin, ...options.api },
        // The upload page at `/`; its presigned URLs point at the local S3.
        site: createStaticSite({
          region: config.region,
          connectSources: [s3.endpoint],
          signIn: () => signIn?.site,
        }),
        ...(options.now ? { now: options.now } : {}),
        ...(options.onApiEvent ? { onEvent: options.onApiEvent } : {}),
      }),
    );
  } catch (error) {
    serviceKms.destroy();
    serviceS3.destroy();
    for (const client of clients) client.destroy();
    await s3Control.close();
    await logs.close();
    await s3.close();
    await kms.close();
    throw error;
  }
  const webOrigin = `http://${config.host === '::1' ? '[::1]' : config.host}:${new URL(gateway.endpoint).port}`;
  const origins = [webOrigin, webOrigin.replace('127.0.0.1', 'localhost')].filter(
    (o, i, all) => all.indexOf(o) === i,
  );
  try {
    signIn = await startSignIn(config, {
      identities: kms.identities,
      origins,
      ...(options.userPoolPort !== undefined ? { userPoolPort: options.userPoolPort } : {}),
      ...(options.identityPoolPort !== undefined ? { identityPoolPort: options.identityPoolPort } : {}),
      ...(options.tokenSeconds ? { tokenSeconds: options.tokenSeconds } : {}),
      ...(options.credentialSeconds !== undefined ? { credentialSeconds: options.credentialSeconds } : {}),
      ...(options.peopleRole ? { peopleRole: options.peopleRole } : {}),
      ...(options.now ? { now: options.now } : {}),
    });
  } catch (error) {
    await gateway.close();
    serviceKms.destroy();
    serviceS3.destroy();
    for (const client of clients) client.destroy();
    await s3Control.close();
    await logs.close();
    await s3.close();
    await kms.close();
    throw error;
  }
  const pools = signIn;
  // The page PUTs uploads to staging and GETs ciphertexts from the vault: CORS for its origin only.
  await serviceS3.send(
    new PutBucketCorsCommand({
      Bucket: config.stagingBucket,
      CORSConfiguration: {
        CORSRules: [
          {
            AllowedOrigins: origins,
            AllowedMethods: ['PUT'],
            AllowedHeaders: ['content-type', 'content-length', 'if-none-match'],
            ExposeHeaders: ['ETag'],
            MaxAgeSeconds: 600,
          },
        ],
      },
    }),
  );
  await serviceS3.send(
    new PutBucketCorsCommand({
      Bucket: config.vaultBucket,
      CORSConfiguration: {
        CORSRules: [
          {
            AllowedOrigins: origins,
            AllowedMethods: ['GET'],
            AllowedHeaders: [],
            ExposeHeaders: ['ETag'],
            MaxAgeSeconds: 600,
          },
        ],
      },
    }),
  );
  // The buckets' policies as deployed (serverless.yml), with the local role and bucket ARNs: only
  // the seal reads uploads, and so on. Statements that cannot hold locally are left out
  // (readBucketPolicy: the TLS-only Deny, which every plain-HTTP local request would meet). Put
  // on every start, so that a data dir made before them, or a policy changed by hand, gets them.
  for (const [id, bucket] of [
    ['VaultBucket', config.vaultBucket],
    ['StagingBucket', config.stagingBucket],
  ] as const) {
    const policy = readBucketPolicy(localValues(config), id);
    if (!policy || policy.document.Statement.length === 0) continue;
    await serviceS3.send(
      new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(policy.document) }),
    );
  }
  // The sweep re-seals uploads whose seal died and expires abandoned ones, as the schedule does in AWS.
  let sweeping = false;
  const sweepTimer =
    config.sweepSeconds > 0
      ? setInterval(() => {
          if (sweeping) return;
          sweeping = true;
          uploads
            .sweep()
            .catch((error: unknown) =>
              logger?.error('upload sweep failed', { error: (error as Error)?.message }),
            )
            .finally(() => {
              sweeping = false;
            });
        }, config.sweepSeconds * 1000)
      : undefined;
  sweepTimer?.unref();
  // The EventBridge schedule of the reencrypt function, in process; never keeps the process alive.
  const rewrapTimer =
    config.rewrapTickSeconds > 0 ? setInterval(backgroundTick, config.rewrapTickSeconds * 1000) : undefined;
  rewrapTimer?.unref();
  return {
    kms,
    s3,
    logs,
    s3Control,
    gateway,
    userPool: pools.userPool,
    identityPool: pools.identityPool,
    peopleRole: pools.peopleRole,
    serviceKms,
    serviceS3,
    uploads,
    rewrap,
    rewrapTick,
    webOrigin,
    auditLog,
    auditLogGroup: settings.auditLogGroup ?? LOCAL_AUDIT_LOG_GROUP,
    async close() {
      if (sweepTimer) clearInterval(sweepTimer);
      closed = true;
      if (rewrapTimer) clearInterval(rewrapTimer);
      await ticking?.catch(() => undefined);
      // Batch jobs first, while the functions they invoke still have their clients.
      await s3Control.close();
      await gateway.close();
      await pools.close();
      serviceKms.destroy();
      serviceS3.destroy();
      for (const client of clients) client.destroy();
      await logs.close();
      await s3.close();
      await kms.close();
    },
  };
}
