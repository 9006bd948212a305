import { bucketNameProblem, isBase64, isPrincipalArn } from '@eaas/aws-rules';
import { MIN_PAGE_TOKEN_SECRET_BYTES } from './core/page-token.js';
import { RESERVED_PREFIXES } from './core/reserved-keys.js';
import { type Check, Settings } from './settings.js';

export { ConfigError } from './settings.js';

/**
 * The service's settings, parsed once from the environment: what the Lambda functions read. The
 * local stack's own settings (ports, data dir, root key, timers) are in `local/config.ts`. This
 * and that are the only modules that read `process.env`; everything else receives a `Config`.
 */
export interface Config {
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
  /** S3 endpoint, addressed path-style; unset in AWS. A bundle run against the local S3 sets it. */
  readonly s3Endpoint: string | undefined;
  readonly accountId: string;
  readonly region: string;
  readonly authzCacheSeconds: number;
  /** Lifetime of presigned upload and download URLs, in seconds. */
  readonly uploadUrlSeconds: number;
  /** Largest document accepted by POST /v1/uploads, in bytes. */
  readonly maxUploadBytes: number;
  /** How long a seal holds an upload before another may take it over, in seconds. */
  readonly sealLeaseSeconds: number;
  /** Re-encryption jobs: KMS rate ceiling, page size, lease. */
  readonly rewrapKmsPerSecond: number;
  readonly rewrapPageSize: number;
  readonly rewrapLeaseSeconds: number;
  /**
   * The batch engine of re-encryption jobs (S3 Batch Operations), when deployed
   * (EAAS_BATCH_FUNCTION_ARN set): the per-object function, the role S3 assumes, where the
   * completion reports go, the jobs' priority, and from how many documents `auto` picks it.
   */
  readonly batch: BatchConfig | undefined;
  /** S3 Control endpoint (S3 Batch Operations); unset in AWS. */
  readonly s3ControlEndpoint: string | undefined;
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
  /**
   * The audit log group (CloudWatch Logs) every function writes its audit records to, whatever the
   * log level; required on Lambda. Undefined elsewhere when unset: records go to the logger.
   */
  readonly auditLogGroup: string | undefined;
  /** CloudWatch Logs endpoint; unset in AWS. The local stack sets its local CloudWatch Logs'. */
  readonly logsEndpoint: string | undefined;
  /**
   * The one origin (`scheme://host[:port]`) whose pages may call the API from a browser: answers
   * carry it in Access-Control-Allow-Origin. Undefined: no cross-origin access.
   */
  readonly corsOrigin: string | undefined;
  /**
   * The value of the reserved tag `eaas:service` on every key the service creates (EAAS_SERVICE_TAG,
   * `eaas-<stage>` in serverless.yml): the functions' roles may use only keys carrying it.
   */
  readonly serviceTag: string | undefined;
  /**
   * The service's roles that use keys on callers' behalf (EAAS_SERVICE_ROLE_ARNS, comma-separated
   * IAM role ARNs; required on Lambda): the key policies the service writes name them for the
   * cryptographic operations, and give the account root (IAM policies) administration only.
   * Undefined: policies as AWS's default, the account root allowed `kms:*`.
   */
  readonly serviceRoleArns: readonly string[] | undefined;
  /**
   * The service's administration roles (EAAS_ADMIN_ROLE_ARNS, the keys function's; required on
   * Lambda): in the key policies it writes, the only principals of the account that may make grants
   * through IAM, and named for PutKeyPolicy.
   */
  readonly adminRoleArns: readonly string[] | undefined;
  /** CloudWatch namespace of the service's metrics (Powertools' POWERTOOLS_METRICS_NAMESPACE). */
  readonly metricsNamespace: string;
  /**
   * Whether the function traces (X-Ray): on Lambda with POWERTOOLS_TRACE_ENABLED=true. The
   * Tracer is loaded only then (src/observability/tracing.ts).
   */
  readonly tracing: boolean;
}

const bucket: Check = (name) => {
  const problem = bucketNameProblem(name);
  return problem && `a bucket name ${problem}`;
};

/** One fixed prefix in front of every key the API stores (e.g. `eaas/`); S3's safe key characters only. */
const objectPrefix: Check = (v) => {
  if (v.length > 256) return 'must be at most 256 characters long';
  if (!/^[A-Za-z0-9!_.*'()/-]*$/.test(v)) return "may hold only letters, digits and !_.*'()/-";
  if (v.startsWith('/')) return 'must not start with /';
  for (const [prefix, what] of Object.entries(RESERVED_PREFIXES))
    if (v.startsWith(prefix) || (v !== '' && prefix.startsWith(v)))
      return `must not start with ${prefix}, nor be a start of it (${what} live under ${prefix})`;
  return undefined;
};

const httpUrl: Check = (v) => {
  try {
    const { protocol } = new URL(v);
    return protocol === 'http:' || protocol === 'https:' ? undefined : 'must be an http or https URL';
  } catch {
    return 'must be an http or https URL';
  }
};

/** An origin as browsers send it: scheme, host and port only, no path, no trailing slash. */
const origin: Check = (v) => {
  try {
    const url = new URL(v);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === v
      ? undefined
      : 'must be an origin, scheme://host[:port], without a path';
  } catch {
    return 'must be an origin, scheme://host[:port], without a path';
  }
};

const pageTokenSecret: Check = (v) =>
  isBase64(v) && Buffer.from(v, 'base64').length >= MIN_PAGE_TOKEN_SECRET_BYTES
    ? undefined
    : `must be the base64 of at least ${MIN_PAGE_TOKEN_SECRET_BYTES} random bytes`;

/** CloudWatch's namespace rule: 1-255 of letters, digits and `.-_/#:`, not starting with `AWS/`. */
const metricsNamespace: Check = (v) =>
  /^[\w.\-/#:]{1,255}$/.test(v) && !v.startsWith('AWS/')
    ? undefined
    : 'must be 1-255 letters, digits or . - _ / # :, and not start with AWS/';

const commaList = (v: string) =>
  v
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');

/** IAM role ARNs, comma-separated, at least one, no wildcard. */
const roleArns: Check = (v) =>
  commaList(v).length > 0 &&
  commaList(v).every((a) => /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/.test(a))
    ? undefined
    : 'must be IAM role ARNs, comma-separated';

export interface BatchConfig {
  readonly functionArn: string;
  readonly roleArn: string;
  readonly reportBucket: string;
  /** Ends with `/` (or is empty). */
  readonly reportPrefix: string;
  readonly priority: number;
  readonly threshold: number;
}

/** The batch engine's settings: all of them with EAAS_BATCH_FUNCTION_ARN, none without. */
function readBatch(s: Settings): BatchConfig | undefined {
  const functionArn = s.optional('EAAS_BATCH_FUNCTION_ARN', (v) =>
    /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9-_]+(:[A-Za-z0-9-_$]+)?$/.test(v)
      ? undefined
      : 'must be a Lambda function ARN',
  );
  const roleArn = s.optional('EAAS_BATCH_ROLE_ARN', (v) =>
    /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/.test(v) ? undefined : 'must be an IAM role ARN',
  );
  const reportBucket = s.optional('EAAS_BATCH_REPORT_BUCKET', bucket);
  const reportPrefix = s.text('EAAS_BATCH_REPORT_PREFIX', 'reports/', (v) =>
    v === '' || /^[\w!.*'()/-]{1,200}\/$/.test(v) ? undefined : 'must be empty or end with /',
  );
  const priority = s.int('EAAS_BATCH_PRIORITY', 0, 2147483647, 10);
  const threshold = s.int('EAAS_BATCH_THRESHOLD', 1, 1_000_000_000, 100_000);
  if (functionArn === undefined) return undefined;
  if (roleArn === undefined) s.problem('EAAS_BATCH_ROLE_ARN', 'is required with EAAS_BATCH_FUNCTION_ARN');
  if (reportBucket === undefined)
    s.problem('EAAS_BATCH_REPORT_BUCKET', 'is required with EAAS_BATCH_FUNCTION_ARN');
  return Object.freeze({
    functionArn,
    roleArn: roleArn ?? '',
    reportBucket: reportBucket ?? '',
    reportPrefix,
    priority,
    threshold,
  });
}

/** Reads the service's settings into `s`, which collects the problems; `loadConfig` is the usual way. */
export function readConfig(s: Settings): Config {
  const vaultBucket = s.text('EAAS_VAULT_BUCKET', 'eaas-vault', bucket);
  const stagingBucket = s.text('EAAS_STAGING_BUCKET', 'eaas-staging', bucket);
  if (vaultBucket === stagingBucket) s.problem('EAAS_STAGING_BUCKET', 'must differ from EAAS_VAULT_BUCKET');
  // Settings a deployed function cannot do without: `where` says where serverless.yml takes them.
  const requiredOnLambda = (name: string, where: string) => {
    if (s.raw('AWS_LAMBDA_FUNCTION_NAME') !== undefined && s.raw(name) === undefined)
      s.problem(name, `is required on AWS Lambda (${where})`);
  };
  const secret = s.optional('EAAS_PAGE_TOKEN_SECRET', pageTokenSecret);
  // Every instance must open the tokens another one sealed: no secret made up per instance.
  requiredOnLambda('EAAS_PAGE_TOKEN_SECRET', 'serverless.yml resolves it from the PageTokenSecret secret');
  const operators = s.optional('EAAS_ALIAS_OPERATORS', (v) =>
    commaList(v).every(isPrincipalArn)
      ? undefined
      : 'must be IAM user, role or assumed-role ARNs, comma-separated',
  );
  const auditLogGroup = s.optional('EAAS_AUDIT_LOG_GROUP', (v) =>
    /^[.\-_/#A-Za-z0-9]{1,512}$/.test(v) ? undefined : 'must be a CloudWatch Logs log group name',
  );
  // An audit trail that depends on the log level, or on a setting left out, is no audit trail.
  requiredOnLambda('EAAS_AUDIT_LOG_GROUP', 'serverless.yml names the AuditLogGroup');
  // Without them the service would write key policies that let every IAM principal use the keys.
  const serviceRoles = s.optional('EAAS_SERVICE_ROLE_ARNS', roleArns);
  requiredOnLambda('EAAS_SERVICE_ROLE_ARNS', "serverless.yml names the functions' roles");
  const adminRoles = s.optional('EAAS_ADMIN_ROLE_ARNS', roleArns);
  requiredOnLambda('EAAS_ADMIN_ROLE_ARNS', "serverless.yml names the keys function's role");
  const region = s.optional('EAAS_REGION', (v) =>
    /^[a-z]{2}(-[a-z]+)+-\d$/.test(v) ? undefined : 'must look like an AWS region, e.g. us-east-1',
  );
  return Object.freeze({
    vaultBucket,
    stagingBucket,
    objectPrefix: s.text('EAAS_OBJECT_PREFIX', '', objectPrefix),
    envelopeVersion: s.oneOf('EAAS_ENVELOPE_VERSION', ['v2', 'v3'], 'v3'),
    kmsEndpoint: s.optional('EAAS_KMS_ENDPOINT', httpUrl),
    s3Endpoint: s.optional('EAAS_S3_ENDPOINT', httpUrl),
    accountId: s.text('EAAS_ACCOUNT_ID', '111122223333', (v) =>
      /^\d{12}$/.test(v) ? undefined : 'must be a 12-digit AWS account id',
    ),
    region: region ?? s.raw('AWS_REGION') ?? 'us-east-1',
    /** How long key policies, grants and alias resolutions are cached for authorization (0: never). */
    authzCacheSeconds: s.int('EAAS_AUTHZ_CACHE_SECONDS', 0, 300, 30),
    uploadUrlSeconds: s.int('EAAS_UPLOAD_URL_SECONDS', 1, 3600, 900),
    // 5 GiB by default; S3's own bound is 5 TiB.
    maxUploadBytes: s.int('EAAS_MAX_UPLOAD_BYTES', 1, 5 * 1024 ** 4, 5 * 1024 ** 3),
    sealLeaseSeconds: s.int('EAAS_SEAL_LEASE_SECONDS', 1, 3600, 900),
    // A ceiling on KMS requests a second per worker (0: none), objects per page (the unit
    // persisted and leased), how long a worker holds a job between two saves of its record.
    rewrapKmsPerSecond: s.int('EAAS_REWRAP_KMS_RPS', 0, 100000, 50),
    rewrapPageSize: s.int('EAAS_REWRAP_PAGE_SIZE', 1, 1000, 100),
    rewrapLeaseSeconds: s.int('EAAS_REWRAP_LEASE_SECONDS', 10, 3600, 300),
    batch: readBatch(s),
    s3ControlEndpoint: s.optional('EAAS_S3CONTROL_ENDPOINT', httpUrl),
    pageTokenSecret: secret === undefined ? undefined : Buffer.from(secret, 'base64'),
    listScanObjects: s.int('EAAS_LIST_SCAN_OBJECTS', 1, 1000, 1000),
    quotas: Object.freeze({
      keys: s.int('EAAS_QUOTA_KEYS_PER_CALLER', 1, 100000, 100),
      aliases: s.int('EAAS_QUOTA_ALIASES_PER_CALLER', 1, 100000, 100),
      jobs: s.int('EAAS_QUOTA_JOBS_PER_CALLER', 1, 10000, 10),
    }),
    aliasOperators: operators === undefined ? undefined : Object.freeze(commaList(operators)),
    auditLogGroup,
    logsEndpoint: s.optional('EAAS_LOGS_ENDPOINT', httpUrl),
    corsOrigin: s.optional('EAAS_CORS_ORIGIN', origin),
    serviceRoleArns: serviceRoles === undefined ? undefined : Object.freeze(commaList(serviceRoles)),
    adminRoleArns: adminRoles === undefined ? undefined : Object.freeze(commaList(adminRoles)),
    serviceTag: s.optional('EAAS_SERVICE_TAG', (v) =>
      /^[\w.:/=+\-@]{1,256}$/.test(v)
        ? undefined
        : 'must be a KMS tag value: 1-256 letters, digits, spaces and _.:/=+-@',
    ),
    metricsNamespace: s.text('POWERTOOLS_METRICS_NAMESPACE', 'eaas', metricsNamespace),
    tracing: s.raw('POWERTOOLS_TRACE_ENABLED') === 'true' && s.raw('AWS_LAMBDA_FUNCTION_NAME') !== undefined,
  });
}

/** Parses and freezes the configuration; a bad value fails here, naming the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const settings = new Settings(env);
  const config = readConfig(settings);
  settings.done();
  return config;
}
