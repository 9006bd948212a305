import { bucketNameProblem, isBase64, isPrincipalArn } from '@eaas/aws-rules';
import { z } from 'zod';
import { MIN_PAGE_TOKEN_SECRET_BYTES } from './core/page-token.js';
import { RESERVED_PREFIXES } from './core/reserved-keys.js';

/**
 * Settings of the service and of the local stack, parsed once from the environment.
 * This is the only module that reads `process.env`; everything else receives a `Config`.
 */
const port = z.coerce.number().int().min(1).max(65535);

const bucket = z.string().superRefine((name, ctx) => {
  const problem = bucketNameProblem(name);
  if (problem) ctx.addIssue({ code: 'custom', message: `a bucket name ${problem}` });
});

const schema = z
  .object({
    EAAS_DATA_DIR: z.string().min(1).default('.eaas'),
    EAAS_HOST: z.enum(['127.0.0.1', 'localhost', '::1']).default('127.0.0.1'),
    EAAS_KMS_PORT: port.default(4599),
    EAAS_API_PORT: port.default(3000),
    EAAS_S3_PORT: port.default(4569),
    /** Where the service keeps encrypted documents. */
    EAAS_VAULT_BUCKET: bucket.default('eaas-vault'),
    /** Where the upload page puts plaintext for the seal handler to encrypt into the vault. */
    EAAS_STAGING_BUCKET: bucket.default('eaas-staging'),
    /** One fixed prefix in front of every key the API stores (e.g. `eaas/`); S3's safe key characters only. */
    EAAS_OBJECT_PREFIX: z
      .string()
      .max(256)
      .regex(/^[A-Za-z0-9!_.*'()/-]*$/, "may hold only letters, digits and !_.*'()/-")
      .refine((v) => !v.startsWith('/'), 'must not start with /')
      .superRefine((v, ctx) => {
        for (const [prefix, what] of Object.entries(RESERVED_PREFIXES))
          if (v.startsWith(prefix) || (v !== '' && prefix.startsWith(v)))
            ctx.addIssue({
              code: 'custom',
              message: `must not start with ${prefix}, nor be a start of it (${what} live under ${prefix})`,
            });
      })
      .default(''),
    /** The S3 Encryption Client format documents are written in: v3 (key-committing) or v2. Both are read. */
    EAAS_ENVELOPE_VERSION: z.enum(['v2', 'v3']).default('v3'),
    EAAS_KMS_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
    EAAS_ACCOUNT_ID: z
      .string()
      .regex(/^\d{12}$/, 'must be a 12-digit AWS account id')
      .default('111122223333'),
    AWS_REGION: z.string().optional(),
    EAAS_REGION: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must look like an AWS region, e.g. us-east-1')
      .optional(),
    EAAS_ROOT_KEY: z
      .string()
      .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be the base64 of 32 random bytes')
      .optional(),
    EAAS_SIGV4_MAX_SKEW_SECONDS: z.coerce.number().int().min(1).max(3600).default(300),
    /** How long key policies, grants and alias resolutions are cached for authorization (0: never). */
    EAAS_AUTHZ_CACHE_SECONDS: z.coerce.number().int().min(0).max(300).default(30),
    /** How long a presigned upload or download URL stays valid. */
    EAAS_UPLOAD_URL_SECONDS: z.coerce.number().int().min(1).max(3600).default(900),
    /** The largest document POST /v1/uploads accepts (5 GiB by default; S3's own bound is 5 TiB). */
    EAAS_MAX_UPLOAD_BYTES: z.coerce
      .number()
      .int()
      .min(1)
      .max(5 * 1024 ** 4)
      .default(5 * 1024 ** 3),
    /** How long one seal may hold an upload before another may take it over (the seal's time limit). */
    EAAS_SEAL_LEASE_SECONDS: z.coerce.number().int().min(1).max(3600).default(900),
    /** Local stack: how often pending uploads are swept (re-sealed or expired); 0 turns the sweep off. */
    EAAS_SWEEP_SECONDS: z.coerce.number().int().min(0).max(86400).default(60),
    /** Re-encryption jobs: the local timer's period (the EventBridge schedule's rate); 0 turns it off. */
    EAAS_REWRAP_TICK_SECONDS: z.coerce.number().int().min(0).max(86400).default(300),
    /** Re-encryption jobs: ceiling on KMS requests a second per worker (0: none). */
    EAAS_REWRAP_KMS_RPS: z.coerce.number().int().min(0).max(100000).default(50),
    /** Re-encryption jobs: objects per page, the unit persisted and leased. */
    EAAS_REWRAP_PAGE_SIZE: z.coerce.number().int().min(1).max(1000).default(100),
    /** Re-encryption jobs: how long a worker holds a job between two saves of its record. */
    EAAS_REWRAP_LEASE_SECONDS: z.coerce.number().int().min(10).max(3600).default(300),
    /**
     * The secret that seals page tokens (the listings' nextToken): base64 of at least 32 random
     * bytes. Required on Lambda; the local stack generates one into the data dir when unset.
     */
    EAAS_PAGE_TOKEN_SECRET: z
      .string()
      .refine(
        (v) => isBase64(v) && Buffer.from(v, 'base64').length >= MIN_PAGE_TOKEN_SECRET_BYTES,
        `must be the base64 of at least ${MIN_PAGE_TOKEN_SECRET_BYTES} random bytes`,
      )
      .optional(),
    /** GET /v1/objects: stored objects one call examines at most (one S3 listing page). */
    EAAS_LIST_SCAN_OBJECTS: z.coerce.number().int().min(1).max(1000).default(1000),
    /** Set by the Lambda runtime: the function runs in AWS. */
    AWS_LAMBDA_FUNCTION_NAME: z.string().optional(),
    /** Per caller: keys created through the API and not pending deletion. */
    EAAS_QUOTA_KEYS_PER_CALLER: z.coerce.number().int().min(1).max(100000).default(100),
    /** Per caller: aliases created through the API. */
    EAAS_QUOTA_ALIASES_PER_CALLER: z.coerce.number().int().min(1).max(100000).default(100),
    /** Per caller: re-encryption jobs started and not finished. */
    EAAS_QUOTA_JOBS_PER_CALLER: z.coerce.number().int().min(1).max(10000).default(10),
    /** Principals that may claim any alias name (comma-separated ARNs); unset locally: myKeyManager. */
    EAAS_ALIAS_OPERATORS: z
      .string()
      .transform((v) =>
        v
          .split(',')
          .map((a) => a.trim())
          .filter((a) => a !== ''),
      )
      .refine(
        (list) => list.every(isPrincipalArn),
        'must be IAM user, role or assumed-role ARNs, comma-separated',
      )
      .optional(),
    /** Local gateway: request body bytes held at once across all requests (6 MiB, one Lambda payload, to 1 GiB). */
    EAAS_GATEWAY_BODY_BYTES_IN_FLIGHT: z.coerce
      .number()
      .int()
      .min(6 * 1024 ** 2)
      .max(1024 ** 3)
      .default(64 * 1024 ** 2),
  })
  .refine((e) => e.EAAS_VAULT_BUCKET !== e.EAAS_STAGING_BUCKET, {
    path: ['EAAS_STAGING_BUCKET'],
    message: 'must differ from EAAS_VAULT_BUCKET',
  })
  // Every instance must open the tokens another one sealed: no secret made up per instance.
  .refine((e) => e.AWS_LAMBDA_FUNCTION_NAME === undefined || e.EAAS_PAGE_TOKEN_SECRET !== undefined, {
    path: ['EAAS_PAGE_TOKEN_SECRET'],
    message: 'is required on AWS Lambda (serverless.yml resolves it from the PageTokenSecret secret)',
  });

export interface Config {
  /** Folder for the local stack's state: key store, credentials, audit log. */
  readonly dataDir: string;
  /** Address every local server binds to; loopback only. */
  readonly host: string;
  readonly kmsPort: number;
  /** Port of the local API gateway. */
  readonly apiPort: number;
  /** Port of the local S3. */
  readonly s3Port: number;
  /** Bucket of the encrypted documents. */
  readonly vaultBucket: string;
  /** Bucket the upload page writes to before the seal handler encrypts into the vault. */
  readonly stagingBucket: string;
  /** Fixed prefix in front of every object key the API stores; empty for none. */
  readonly objectPrefix: string;
  /** Format of new documents; v3 unless configured for v2 (AWS clients older than S3EC v3/v4 read only v2). */
  readonly envelopeVersion: 'v2' | 'v3';
  /** KMS endpoint; unset in AWS, where the SDK's regional endpoint is right. */
  readonly kmsEndpoint: string | undefined;
  readonly accountId: string;
  readonly region: string;
  /** Root key that wraps local key material at rest; generated into the data dir when absent. */
  readonly rootKey: Buffer | undefined;
  /** Largest clock difference a SigV4 signature may have, in seconds. */
  readonly sigv4MaxSkewSeconds: number;
  readonly authzCacheSeconds: number;
  /** Lifetime of presigned upload and download URLs, in seconds. */
  readonly uploadUrlSeconds: number;
  /** Largest document accepted by POST /v1/uploads, in bytes. */
  readonly maxUploadBytes: number;
  /** How long a seal holds an upload before another may take it over, in seconds. */
  readonly sealLeaseSeconds: number;
  /** Interval of the local stack's sweep of pending uploads, in seconds; 0 for none. */
  readonly sweepSeconds: number;
  /** Re-encryption jobs: local timer period in seconds (0: off), KMS rate ceiling, page size, lease. */
  readonly rewrapTickSeconds: number;
  readonly rewrapKmsPerSecond: number;
  readonly rewrapPageSize: number;
  readonly rewrapLeaseSeconds: number;
  /** Secret of the listings' page tokens; undefined outside Lambda when unset (the local stack makes one). */
  readonly pageTokenSecret: Buffer | undefined;
  /** GET /v1/objects: stored objects one call examines at most. */
  readonly listScanObjects: number;
  /** Per-caller quotas: keys not pending deletion, aliases, unfinished re-encryption jobs. */
  readonly quotas: { readonly keys: number; readonly aliases: number; readonly jobs: number };
  /**
   * Principals that may claim any alias name; everyone else names aliases under its own prefix.
   * Undefined when unset: none in AWS, the seed's myKeyManager on the local stack.
   */
  readonly aliasOperators: readonly string[] | undefined;
  /** Local gateway: bound on request body bytes held at once across all requests in flight. */
  readonly gatewayBodyBytesInFlight: number;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Parses and freezes the configuration; a bad value fails here, naming the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`Invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  return Object.freeze({
    dataDir: e.EAAS_DATA_DIR,
    host: e.EAAS_HOST,
    kmsPort: e.EAAS_KMS_PORT,
    apiPort: e.EAAS_API_PORT,
    s3Port: e.EAAS_S3_PORT,
    vaultBucket: e.EAAS_VAULT_BUCKET,
    stagingBucket: e.EAAS_STAGING_BUCKET,
    objectPrefix: e.EAAS_OBJECT_PREFIX,
    envelopeVersion: e.EAAS_ENVELOPE_VERSION,
    kmsEndpoint: e.EAAS_KMS_ENDPOINT,
    accountId: e.EAAS_ACCOUNT_ID,
    region: e.EAAS_REGION ?? e.AWS_REGION ?? 'us-east-1',
    rootKey: e.EAAS_ROOT_KEY === undefined ? undefined : Buffer.from(e.EAAS_ROOT_KEY, 'base64'),
    sigv4MaxSkewSeconds: e.EAAS_SIGV4_MAX_SKEW_SECONDS,
    authzCacheSeconds: e.EAAS_AUTHZ_CACHE_SECONDS,
    uploadUrlSeconds: e.EAAS_UPLOAD_URL_SECONDS,
    maxUploadBytes: e.EAAS_MAX_UPLOAD_BYTES,
    sealLeaseSeconds: e.EAAS_SEAL_LEASE_SECONDS,
    sweepSeconds: e.EAAS_SWEEP_SECONDS,
    rewrapTickSeconds: e.EAAS_REWRAP_TICK_SECONDS,
    rewrapKmsPerSecond: e.EAAS_REWRAP_KMS_RPS,
    rewrapPageSize: e.EAAS_REWRAP_PAGE_SIZE,
    rewrapLeaseSeconds: e.EAAS_REWRAP_LEASE_SECONDS,
    pageTokenSecret:
      e.EAAS_PAGE_TOKEN_SECRET === undefined ? undefined : Buffer.from(e.EAAS_PAGE_TOKEN_SECRET, 'base64'),
    listScanObjects: e.EAAS_LIST_SCAN_OBJECTS,
    quotas: Object.freeze({
      keys: e.EAAS_QUOTA_KEYS_PER_CALLER,
      aliases: e.EAAS_QUOTA_ALIASES_PER_CALLER,
      jobs: e.EAAS_QUOTA_JOBS_PER_CALLER,
    }),
    aliasOperators: e.EAAS_ALIAS_OPERATORS === undefined ? undefined : Object.freeze(e.EAAS_ALIAS_OPERATORS),
    gatewayBodyBytesInFlight: e.EAAS_GATEWAY_BODY_BYTES_IN_FLIGHT,
  });
}
