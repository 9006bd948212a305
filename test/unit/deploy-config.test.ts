import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { GRANT_OPERATIONS, KEY_SPECS, KEY_USAGES } from '../../src/core/key-kinds.js';
import { FUNCTIONS, ROUTES } from '../../src/http/routes.js';
import {
  ACCOUNT,
  dependencyCycle,
  list,
  REGION,
  type Resources,
  render,
  roleMay,
  roleStatements,
  type Statement,
  statementParts,
} from '../helpers/cfn-template.js';

interface FunctionDef {
  handler: string;
  role?: string;
  events?: { http?: { path: string; method: string; authorizer?: string }; schedule?: string }[];
  timeout?: number;
  memorySize?: number;
}
interface Sls {
  service: string;
  provider: {
    runtime: string;
    apiGateway: { binaryMediaTypes: string[] };
    environment: Record<string, unknown>;
    iam?: unknown;
  };
  custom: Record<string, unknown>;
  functions: Record<string, FunctionDef>;
  resources: { Resources: Resources };
}

interface LifecycleRule {
  Status: string;
  Prefix?: string;
  ExpirationInDays?: number;
  ExpirationDate?: string;
  AbortIncompleteMultipartUpload?: { DaysAfterInitiation: number };
}
interface BucketProperties {
  PublicAccessBlockConfiguration?: unknown;
  OwnershipControls?: unknown;
  BucketEncryption?: { ServerSideEncryptionConfiguration: unknown };
  VersioningConfiguration?: unknown;
  LifecycleConfiguration?: { Rules: LifecycleRule[] };
  CorsConfiguration?: { CorsRules: Record<string, unknown>[] };
  NotificationConfiguration?: { LambdaConfigurations: unknown[] };
}

const raw = parse(readFileSync('serverless.yml', 'utf8')) as Sls;

/**
 * The few Serverless variables serverless.yml uses, resolved as osls does for `--stage dev` with
 * no --param: `${self:...}`, `${sls:stage}`, `${param:x, 'default'}`, `${opt:x, 'default'}`.
 * CloudFormation's own `${AWS::...}` (inside Fn::Sub) is left alone; anything else throws.
 */
function resolve(value: unknown, root: Sls): unknown {
  if (Array.isArray(value)) return value.map((v) => resolve(v, root));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, root)]));
  if (typeof value !== 'string') return value;
  const one = (expr: string): unknown => {
    const fallback = /^(param|opt):[\w-]+,\s*'([^']*)'$/.exec(expr);
    if (fallback) return fallback[2];
    if (expr === 'sls:stage') return 'dev';
    if (expr.startsWith('self:'))
      return resolve(
        expr
          .slice(5)
          .split('.')
          .reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], root),
        root,
      );
    throw new Error(`serverless.yml uses a variable this test does not resolve: \${${expr}}`);
  };
  // CloudFormation's own: `${AWS::...}`, a resource's `${LogicalId}` and a literal `${!...}` inside Fn::Sub.
  const cfn = (expr: string) =>
    expr.startsWith('AWS::') || expr.startsWith('!') || /^[A-Za-z0-9]+$/.test(expr);
  const whole = /^\$\{([^}]+)\}$/.exec(value);
  if (whole?.[1] && !cfn(whole[1])) return one(whole[1]);
  return value.replace(/\$\{([^}]+)\}/g, (m, expr: string) => (cfn(expr) ? m : String(one(expr))));
}

const sls = resolve(raw, raw) as Sls;
const resources = sls.resources.Resources;
const httpFunctions = Object.entries(sls.functions).filter(([, fn]) => fn.events?.some((e) => e.http));

const STAGING = `eaas-dev-staging-${ACCOUNT}-${REGION}`;
const VAULT = render(resources, { Ref: 'VaultBucket' });
const REPORTS = `eaas-dev-batch-reports-${ACCOUNT}-${REGION}`;
const BATCH_JOB_ACTIONS = ['s3:CreateJob', 's3:DescribeJob', 's3:UpdateJobStatus'];
const s3 = (bucket: string, key = '') => `arn:aws:s3:::${bucket}${key}`;
const KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const ALIAS = `arn:aws:kms:${REGION}:${ACCOUNT}:alias/payments`;
const roleOf = (fn: string) => sls.functions[fn]?.role ?? '';
/**
 * A request on a key of this deployment (custom.serviceTag: eaas-dev), a new key asking for the
 * tag, a data key in the S3 Encryption Client's context, a grant of operations the API offers.
 */
const OURS: Record<string, string[]> = {
  'aws:ResourceTag/eaas:service': ['eaas-dev'],
  'aws:RequestTag/eaas:service': ['eaas-dev'],
  'aws:TagKeys': ['eaas:service', 'eaas:created-by'],
  'kms:EncryptionContextKeys': ['aws:x-amz-cek-alg', 'tenant'],
  'kms:GrantOperations': ['Encrypt', 'Decrypt'],
};
/** Actions IAM scopes to no resource: CreateKey (and TagResource for its Tags), listings, CreateJob. */
const unscoped = (action: string) =>
  [
    'kms:CreateKey',
    'kms:TagResource',
    'kms:ListKeys',
    'kms:ListAliases',
    'xray:PutTraceSegments',
    'xray:PutTelemetryRecords',
    // S3 Batch Operations' CreateJob: the job does not exist yet (deploy/template-assertions.ts).
    's3:CreateJob',
  ].includes(action);

describe('serverless.yml and the route table agree', () => {
  it('declares a function for each entry of the route table, every handler in its own module', () => {
    expect(httpFunctions.map(([name]) => name).sort()).toEqual(Object.keys(FUNCTIONS).sort());
    for (const [name, fn] of Object.entries(sls.functions))
      expect(fn.handler).toBe(`src/functions/${name}.handler`);
  });

  it('declares exactly the routes of the table, each behind AWS_IAM', () => {
    const declared = httpFunctions.flatMap(([name, fn]) =>
      (fn.events ?? []).flatMap((e) =>
        e.http ? [`${name} ${e.http.method.toUpperCase()} /${e.http.path} ${e.http.authorizer}`] : [],
      ),
    );
    const expected = ROUTES.map((r) => `${r.function} ${r.method} ${r.path} aws_iam`);
    expect(declared.sort()).toEqual(expected.sort());
  });

  it('runs on nodejs22.x and passes every body as binary, both ways, whatever its media type', async () => {
    const { readApiSettings } = await import('../../local/api-settings.js');
    expect(sls.provider.runtime).toBe('nodejs22.x');
    expect(sls.provider.apiGateway.binaryMediaTypes).toEqual(['*/*']);
    // The local gateway reads the same list.
    expect(readApiSettings().binaryMediaTypes).toEqual(['*/*']);
  });
});

describe('the bundles', () => {
  it('are one minified bundle per function entry, with source maps written but never loaded at start', () => {
    expect(raw.custom.esbuild).toMatchObject({ bundle: true, minify: true, sourcemap: 'external' });
    expect((raw as unknown as { package: { individually: boolean } }).package.individually).toBe(true);
    // Node would read every map at start (issue 14: 5.5-6.3 MB per function).
    expect(String(sls.provider.environment.NODE_OPTIONS ?? '')).not.toContain('--enable-source-maps');
    for (const fn of Object.values(sls.functions))
      expect(fn.handler).toMatch(/^src\/functions\/\w+\.handler$/);
  });
});

describe('the buckets', () => {
  const bucket = (id: string) => (resources[id]?.Properties ?? {}) as BucketProperties;

  it.each(['VaultBucket', 'StagingBucket', 'AccessLogsBucket'])(
    '%s blocks all public access and encrypts at rest',
    (id) => {
      expect(resources[id]?.Type).toBe('AWS::S3::Bucket');
      expect(bucket(id).PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(bucket(id).OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
      // Staging holds plaintext until sealed: under the stack's own key, with a Bucket Key.
      expect(bucket(id).BucketEncryption?.ServerSideEncryptionConfiguration).toEqual([
        id === 'StagingBucket'
          ? {
              ServerSideEncryptionByDefault: {
                SSEAlgorithm: 'aws:kms',
                KMSMasterKeyID: { 'Fn::GetAtt': ['StagingKey', 'Arn'] },
              },
              BucketKeyEnabled: true,
            }
          : { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
      ]);
    },
  );

  it('lets only the seal read uploaded plaintext, and the staging key be used only through S3 for staging', () => {
    const statements =
      (resources.StagingBucketPolicy?.Properties?.PolicyDocument as { Statement: Statement[] } | undefined)
        ?.Statement ?? [];
    const only = statements.find((s) => s.Sid === 'OnlyTheSealReadsUploads');
    expect(only).toMatchObject({ Effect: 'Deny', Principal: '*', Action: 's3:GetObject' });
    expect(only?.Condition).toEqual({
      ArnNotEquals: { 'aws:PrincipalArn': { 'Fn::GetAtt': ['SealRole', 'Arn'] } },
    });
    const key =
      (resources.StagingKey?.Properties?.KeyPolicy as { Statement: Statement[] } | undefined)?.Statement ??
      [];
    const admin = key.find((s) => s.Sid === 'AccountAdministers');
    expect(list(admin?.Action).some((a) => /Decrypt|Encrypt|GenerateDataKey|\*/.test(a))).toBe(false);
    const use = key.find((s) => s.Sid === 'UploadsAndSealThroughS3ForStaging');
    expect(use?.Principal).toEqual({
      AWS: [{ 'Fn::GetAtt': ['UploadsRole', 'Arn'] }, { 'Fn::GetAtt': ['SealRole', 'Arn'] }],
    });
    expect(use?.Condition?.StringEquals).toEqual({
      'kms:ViaService': { 'Fn::Sub': ['s3.', '$', '{AWS::Region}.amazonaws.com'].join('') },
    });
    expect(key.length).toBe(3);
  });

  it("keeps the stack's own keys out of any deployment's reach: their policies deny adding eaas:service, in any case", () => {
    for (const id of ['LogsKey', 'StagingKey']) {
      const statements =
        (resources[id]?.Properties?.KeyPolicy as { Statement: Statement[] } | undefined)?.Statement ?? [];
      expect(
        statements.find((st) => st.Sid === 'NeverTheServiceTag'),
        id,
      ).toMatchObject({
        Effect: 'Deny',
        Principal: '*',
        Action: 'kms:TagResource',
        Condition: { 'ForAnyValue:StringEqualsIgnoreCase': { 'aws:TagKeys': 'eaas:service' } },
      });
    }
  });

  it('logs every request on the vault and staging buckets to the access-log bucket', () => {
    for (const id of ['VaultBucket', 'StagingBucket'])
      expect((bucket(id) as { LoggingConfiguration?: unknown }).LoggingConfiguration, id).toMatchObject({
        DestinationBucketName: { Ref: 'AccessLogsBucket' },
      });
  });

  it('records the failed asynchronous invocations of the seal and the re-encryption worker in an alarmed queue', () => {
    const fns = sls.functions as Record<string, { destinations?: { onFailure?: unknown } }>;
    for (const fn of ['seal', 'reencrypt'])
      expect(fns[fn]?.destinations?.onFailure, fn).toEqual({
        type: 'sqs',
        arn: { 'Fn::GetAtt': ['FailureQueue', 'Arn'] },
      });
    const queue = `arn:aws:sqs:${REGION}:${ACCOUNT}:eaas-dev-failures`;
    for (const fn of ['seal', 'reencrypt'])
      expect(roleMay(resources, roleOf(fn), 'sqs:SendMessage', queue), fn).toBe(true);
    expect(roleMay(resources, roleOf('crypto'), 'sqs:SendMessage', queue)).toBe(false);
    expect(resources.FailureQueueAlarm?.Properties).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 0,
    });
  });

  it.each(['VaultBucket', 'StagingBucket'])('%s refuses every request that is not over TLS', (id) => {
    const policies = Object.values(resources).filter(
      (r) =>
        r.Type === 'AWS::S3::BucketPolicy' &&
        JSON.stringify(r.Properties?.Bucket) === JSON.stringify({ Ref: id }),
    );
    expect(policies).toHaveLength(1);
    const document = policies[0]?.Properties?.PolicyDocument as { Statement: Statement[] } | undefined;
    const statements = document?.Statement ?? [];
    const tls = statements.find((s) => s.Condition?.Bool?.['aws:SecureTransport'] === 'false');
    expect(tls).toMatchObject({ Effect: 'Deny', Principal: '*', Action: 's3:*' });
    const arns = ((tls?.Resource ?? []) as unknown[]).map((r) => render(resources, r)).sort();
    const name = render(resources, { Ref: id });
    expect(arns).toEqual([s3(name), s3(name, '/*')]);
  });

  it('versions the vault only: a staging version would keep the plaintext the seal deletes', () => {
    expect(bucket('VaultBucket').VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(bucket('StagingBucket').VersioningConfiguration).toBeUndefined();
  });

  it('expires staging uploads after a day and records after 30 days; aborts stale multipart uploads on both', () => {
    const rules = (id: string) => bucket(id).LifecycleConfiguration?.Rules ?? [];
    const enabled = (id: string) => rules(id).filter((r) => r.Status === 'Enabled');
    expect(enabled('StagingBucket')).toContainEqual(
      expect.objectContaining({ Prefix: 'incoming/', ExpirationInDays: 1 }),
    );
    expect(enabled('StagingBucket')).toContainEqual(
      expect.objectContaining({ Prefix: 'records/', ExpirationInDays: 30 }),
    );
    for (const id of ['StagingBucket', 'VaultBucket']) {
      const abort = enabled(id).filter((r) => r.AbortIncompleteMultipartUpload);
      expect(abort, id).toHaveLength(1);
      // Bucket-wide: no prefix leaves an upload of the seal or of the browser behind.
      expect(abort[0]?.Prefix, id).toBeUndefined();
      expect(abort[0]?.AbortIncompleteMultipartUpload?.DaysAfterInitiation, id).toBe(1);
    }
    // Nothing expires current documents in the vault.
    expect(enabled('VaultBucket').filter((r) => r.ExpirationInDays || r.ExpirationDate)).toEqual([]);
  });

  it('allows CORS from the configured web origin only: PUT with ETag on staging, GET with ETag on the vault', () => {
    expect(raw.custom.webOrigin).toMatch(/^\$\{param:webOrigin, '[^']+'\}$/);
    const origin = sls.custom.webOrigin as string;
    expect(origin).toMatch(/^https:\/\/[a-z0-9.-]+$/);
    const cors = (id: string) => bucket(id).CorsConfiguration?.CorsRules ?? [];
    expect(cors('StagingBucket')).toEqual([
      expect.objectContaining({
        AllowedOrigins: [origin],
        AllowedMethods: ['PUT'],
        ExposedHeaders: ['ETag'],
        AllowedHeaders: expect.arrayContaining(['content-type']),
      }),
    ]);
    expect(cors('VaultBucket')).toEqual([
      expect.objectContaining({
        AllowedOrigins: [origin],
        AllowedMethods: ['GET'],
        ExposedHeaders: ['ETag'],
      }),
    ]);
    for (const rule of [...cors('StagingBucket'), ...cors('VaultBucket')])
      expect(rule.MaxAge).toBeGreaterThan(0);
  });

  it('runs the seal on objects created under incoming/ of the staging bucket, and only there', () => {
    const lambdas = bucket('StagingBucket').NotificationConfiguration?.LambdaConfigurations;
    expect(lambdas).toEqual([
      {
        Event: 's3:ObjectCreated:*',
        Function: { 'Fn::GetAtt': ['SealLambdaFunction', 'Arn'] },
        Filter: { S3Key: { Rules: [{ Name: 'prefix', Value: 'incoming/' }] } },
      },
    ]);
    expect(bucket('VaultBucket').NotificationConfiguration).toBeUndefined();
    // S3 may invoke the seal for this bucket of this account, and the bucket waits for that.
    const permission = resources.SealInvokeFromStaging?.Properties as Record<string, unknown>;
    expect(permission).toMatchObject({
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': ['SealLambdaFunction', 'Arn'] },
      Principal: 's3.amazonaws.com',
      SourceAccount: { Ref: 'AWS::AccountId' },
    });
    expect(render(resources, permission.SourceArn)).toBe(s3(STAGING));
    expect(resources.StagingBucket?.DependsOn).toBe('SealInvokeFromStaging');
    expect(render(resources, { Ref: 'StagingBucket' })).toBe(STAGING);
  });

  it('names the staging bucket without a Ref, so that nothing the seal needs depends on the bucket', () => {
    const env = sls.provider.environment;
    expect(render(resources, env.EAAS_STAGING_BUCKET)).toBe(STAGING);
    expect(JSON.stringify(env)).not.toContain('StagingBucket');
    expect(JSON.stringify(resources.SealRole)).not.toContain('StagingBucket');
    expect(dependencyCycle(resources)).toBeUndefined();
  });

  it('the seal may run for 15 minutes with 1 GB; uploads are bounded and their links short-lived', () => {
    expect(sls.functions.seal).toMatchObject({ timeout: 900, memorySize: 1024 });
    expect(Number(sls.provider.environment.EAAS_UPLOAD_URL_SECONDS)).toBeLessThanOrEqual(3600);
    expect(Number(sls.provider.environment.EAAS_MAX_UPLOAD_BYTES)).toBe(5 * 1024 ** 3);
    expect(Number(sls.provider.environment.EAAS_SEAL_LEASE_SECONDS)).toBe(sls.functions.seal?.timeout);
  });
});

describe('the page-token secret', () => {
  it('is generated by Secrets Manager and resolved into every function by a dynamic reference, never written here', () => {
    const secret = resources.PageTokenSecret;
    expect(secret?.Type).toBe('AWS::SecretsManager::Secret');
    expect(secret?.Properties).not.toHaveProperty('SecretString');
    expect(secret?.Properties?.GenerateSecretString).toMatchObject({ ExcludePunctuation: true });
    const generate = (secret?.Properties?.GenerateSecretString ?? {}) as { PasswordLength?: number };
    const length = generate.PasswordLength ?? 0;
    // Letters and digits only: base64 of at least 32 bytes, as the configuration requires.
    expect(length % 4).toBe(0);
    expect((length / 4) * 3).toBeGreaterThanOrEqual(32);
    expect(sls.provider.environment.EAAS_PAGE_TOKEN_SECRET).toEqual({
      'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: 'PageTokenSecret' }, ':SecretString}}']],
    });
    // Resolved by CloudFormation at deploy time: no function role reads it.
    for (const [id, r] of Object.entries(resources))
      if (r.Type === 'AWS::IAM::Role') expect(JSON.stringify(r), id).not.toContain('secretsmanager');
  });

  it('a value of that shape is accepted by the configuration, which refuses to start on Lambda without one', async () => {
    const { loadConfig } = await import('../../src/config.js');
    const generated = 'aZ09'.repeat(16);
    expect(
      loadConfig({
        AWS_LAMBDA_FUNCTION_NAME: 'eaas-dev-keys',
        EAAS_PAGE_TOKEN_SECRET: generated,
        EAAS_AUDIT_LOG_GROUP: '/eaas/dev/audit',
        EAAS_SERVICE_ROLE_ARNS: 'arn:aws:iam::111122223333:role/eaas-dev-crypto',
        EAAS_ADMIN_ROLE_ARNS: 'arn:aws:iam::111122223333:role/eaas-dev-keys',
      }).pageTokenSecret,
    ).toHaveLength(48);
    expect(() => loadConfig({ AWS_LAMBDA_FUNCTION_NAME: 'eaas-dev-keys' })).toThrow('EAAS_PAGE_TOKEN_SECRET');
  });
});

describe('key policies: the account root administers, only the service roles use', () => {
  it('names the roles of the functions that use keys, and only those, in EAAS_SERVICE_ROLE_ARNS', () => {
    const env = sls.provider.environment as unknown as Record<string, unknown>;
    expect(env.EAAS_SERVICE_ROLE_ARNS).toEqual({
      'Fn::Join': [
        ',',
        [
          'CryptoRole',
          'ObjectsRole',
          'StreamsRole',
          'SealRole',
          'ReencryptRole',
          'UploadsRole',
          'RewrapbatchRole',
        ].map((r) => ({
          'Fn::GetAtt': [r, 'Arn'],
        })),
      ],
    });
    expect(env.EAAS_ADMIN_ROLE_ARNS).toEqual({ 'Fn::GetAtt': ['KeysRole', 'Arn'] });
  });

  it('names every role, so that the ARNs the key policies name survive a replacement of the role', () => {
    for (const [name, fn] of Object.entries(sls.functions))
      expect(resources[fn.role ?? '']?.Properties?.RoleName, name).toBe(`eaas-dev-${name}`);
  });
});

describe('least privilege: every function its own role', () => {
  it('gives every function a role of its own declared here, and no provider-wide role', () => {
    expect(sls.provider.iam).toBeUndefined();
    const roles = Object.values(sls.functions).map((fn) => fn.role);
    expect(new Set(roles).size).toBe(roles.length);
    for (const [name, fn] of Object.entries(sls.functions)) {
      expect(fn.role, name).toBeDefined();
      expect(resources[fn.role ?? '']?.Type, name).toBe('AWS::IAM::Role');
      const trust = resources[fn.role ?? '']?.Properties?.AssumeRolePolicyDocument as { Statement: unknown };
      expect(trust.Statement, name).toEqual([
        { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ]);
    }
  });

  it('grants no action wildcard, and S3 actions only on this stack buckets', () => {
    const roles = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::IAM::Role');
    expect(roles.length).toBeGreaterThanOrEqual(Object.keys(sls.functions).length);
    for (const [id] of roles)
      for (const statement of roleStatements(resources, id)) {
        const { actions, arns } = statementParts(resources, statement);
        for (const action of actions) expect(action, id).not.toContain('*');
        // S3 Batch Operations' job actions: on this account's jobs, or "*" for CreateJob (no resource type).
        if (actions.every((a) => BATCH_JOB_ACTIONS.includes(a)))
          for (const arn of arns)
            expect(arn, id).toMatch(
              actions.includes('s3:CreateJob') ? /^\*$/ : new RegExp(`^arn:aws:s3:${REGION}:${ACCOUNT}:job/`),
            );
        else if (actions.some((a) => a.startsWith('s3:')))
          for (const arn of arns)
            expect(arn, id).toMatch(new RegExp(`^arn:aws:s3:::(${STAGING}|${VAULT}|${REPORTS})(/|$)`));
        // "*" only where IAM knows no narrower resource: a key being created, or a listing.
        if (arns.includes('*') && statement.Effect === 'Allow')
          expect(
            actions.filter((a) => !unscoped(a)),
            id,
          ).toEqual([]);
      }
  });

  it("lets every function write its own logs and its own audit streams, and no other function's", () => {
    const names = Object.keys(sls.functions);
    const logStream = (fn: string) =>
      `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/eaas-dev-${fn}:log-stream:2026/x`;
    const auditStream = (fn: string) =>
      `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/eaas/dev/audit:log-stream:${fn}/2026/12/04/x`;
    for (const name of names)
      for (const other of names)
        for (const action of ['logs:CreateLogStream', 'logs:PutLogEvents']) {
          expect(
            roleMay(resources, roleOf(name), action, logStream(other)),
            `${name} ${action} ${other}`,
          ).toBe(name === other);
          expect(
            roleMay(resources, roleOf(name), action, auditStream(other)),
            `${name} ${action} audit ${other}`,
          ).toBe(name === other);
        }
  });

  it('keeps the audit log group apart: its own retention (a parameter, 400 days), encrypted under a key of the stack, kept when the stack goes', () => {
    expect(raw.custom.auditRetentionDays).toBe(`\${param:auditRetentionDays, '400'}`);
    const group = resources.AuditLogGroup;
    expect(group?.Type).toBe('AWS::Logs::LogGroup');
    expect(group?.Properties).toMatchObject({ LogGroupName: '/eaas/dev/audit', RetentionInDays: '400' });
    expect(group?.Properties?.KmsKeyId).toEqual({ 'Fn::GetAtt': ['LogsKey', 'Arn'] });
    expect(group).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(sls.provider.environment.EAAS_AUDIT_LOG_GROUP).toEqual({ Ref: 'AuditLogGroup' });
    // The functions' own log groups are encrypted under it too.
    const extensions = (raw.resources as unknown as { extensions: Record<string, { Properties: unknown }> })
      .extensions;
    for (const name of Object.keys(sls.functions)) {
      const id = `${name[0]?.toUpperCase()}${name.slice(1)}LogGroup`;
      expect(extensions[id]?.Properties, id).toEqual({ KmsKeyId: { 'Fn::GetAtt': ['LogsKey', 'Arn'] } });
    }
  });

  it('lets no IAM principal use the logs key: the account administers it, CloudWatch Logs uses it for this stack only', () => {
    const statements =
      (resources.LogsKey?.Properties?.KeyPolicy as { Statement: Statement[] } | undefined)?.Statement ?? [];
    expect(statements.length).toBeGreaterThan(0);
    const admin = statements.find((s) => s.Sid === 'AccountAdministers');
    expect(list(admin?.Action)).toContain('kms:PutKeyPolicy');
    expect(list(admin?.Action).some((a) => /Decrypt|Encrypt|GenerateDataKey|\*/.test(a))).toBe(false);
    const logs = statements.find((s) => s.Sid === 'CloudWatchLogsEncryptsThisStacksLogGroups');
    expect(logs?.Condition?.ArnLike).toBeDefined();
  });

  const incoming = s3(STAGING, '/incoming/0123abcd');
  const record = s3(STAGING, '/records/0123abcd.json');
  const pending = s3(STAGING, '/pending/0123abcd');
  const document = s3(VAULT, '/contracts/2026/acme.pdf');
  const quota = s3(VAULT, '/quotas/0123abcd.json');
  const job = s3(VAULT, '/jobs/0123abcd.json');
  // [function, action, resource, allowed]
  const cases: [string, string, string, boolean][] = [
    // seal: plaintext in from staging, ciphertext out to the vault, a data key.
    ['seal', 's3:GetObject', incoming, true],
    ['seal', 's3:DeleteObject', incoming, true],
    ['seal', 's3:AbortMultipartUpload', incoming, true],
    ['seal', 's3:GetObject', record, true],
    ['seal', 's3:PutObject', record, true],
    ['seal', 's3:PutObject', document, true],
    ['seal', 's3:AbortMultipartUpload', document, true],
    ['seal', 'kms:DescribeKey', KEY, true],
    // It checks again that the uploader may still encrypt (key policy, grants), and ends the markers.
    ['seal', 'kms:GetKeyPolicy', KEY, true],
    ['seal', 'kms:ListGrants', KEY, true],
    ['seal', 's3:DeleteObject', pending, true],
    ['seal', 's3:ListBucket', s3(VAULT), true],
    ['uploads', 's3:PutObject', pending, true],
    ['uploads', 's3:DeleteObject', pending, true],
    ['uploads', 's3:DeleteObject', record, false],
    // The verify step of verified client-sealed uploads: Decrypt in the S3EC context (OURS holds
    // aws:x-amz-cek-alg; the test below takes it away), and the pending prefix read and deleted.
    ['seal', 'kms:Decrypt', KEY, true],
    ['seal', 's3:GetObject', s3(VAULT, '/uploads-verifying/0123abcd'), true],
    ['seal', 's3:DeleteObject', s3(VAULT, '/uploads-verifying/0123abcd'), true],
    ['seal', 'kms:Encrypt', KEY, false],
    ['seal', 'kms:ReEncryptFrom', KEY, false],
    ['seal', 'kms:CreateGrant', KEY, false],
    ['seal', 's3:DeleteObject', document, false],
    ['seal', 's3:PutObject', incoming, false],
    ['seal', 's3:GetObject', s3(STAGING, '/elsewhere/x'), false],
    // uploads: presigned writes into incoming/, its records, authorization reads; for uploads
    // sealed by the client, a data key (never Decrypt) and multipart writes into the vault, never a delete.
    ['uploads', 's3:PutObject', incoming, true],
    ['uploads', 's3:AbortMultipartUpload', incoming, true],
    ['uploads', 's3:ListMultipartUploadParts', incoming, true],
    ['uploads', 's3:DeleteObject', incoming, true],
    // It never reads an upload's plaintext.
    ['uploads', 's3:GetObject', incoming, false],
    ['uploads', 's3:GetObject', record, true],
    ['uploads', 's3:PutObject', record, true],
    ['uploads', 's3:ListBucket', s3(STAGING), true],
    ['uploads', 'kms:GetKeyPolicy', KEY, true],
    ['uploads', 'kms:ListGrants', KEY, true],
    ['uploads', 'kms:DescribeKey', KEY, true],
    ['uploads', 'kms:GenerateDataKey', KEY, true],
    ['uploads', 'kms:Encrypt', KEY, false],
    ['uploads', 'kms:Decrypt', KEY, false],
    ['uploads', 's3:PutObject', document, true],
    ['uploads', 's3:AbortMultipartUpload', document, true],
    ['uploads', 's3:ListMultipartUploadParts', document, true],
    ['uploads', 's3:DeleteObject', document, false],
    ['uploads', 's3:PutObject', s3(STAGING, '/elsewhere/x'), false],
    // objects: the vault, data keys and their unwrapping; nothing of staging.
    ['objects', 's3:GetObject', document, true],
    ['objects', 's3:PutObject', document, true],
    ['objects', 's3:DeleteObject', document, true],
    ['objects', 's3:ListBucket', s3(VAULT), true],
    ['objects', 'kms:GenerateDataKey', KEY, true],
    ['objects', 'kms:Decrypt', KEY, true],
    ['objects', 'kms:GetKeyPolicy', KEY, true],
    ['objects', 's3:GetObject', incoming, false],
    ['objects', 's3:GetObject', record, false],
    ['objects', 'kms:ReEncryptFrom', KEY, false],
    ['objects', 'kms:PutKeyPolicy', KEY, false],
    // crypto: the cryptographic operations; no documents, no administration.
    ['crypto', 'kms:Encrypt', KEY, true],
    ['crypto', 'kms:Decrypt', KEY, true],
    ['crypto', 'kms:ReEncryptFrom', KEY, true],
    ['crypto', 'kms:ReEncryptTo', KEY, true],
    ['crypto', 'kms:GenerateDataKey', KEY, true],
    ['crypto', 'kms:GenerateDataKeyWithoutPlaintext', KEY, true],
    ['crypto', 'kms:PutKeyPolicy', KEY, false],
    ['crypto', 'kms:CreateKey', '*', false],
    ['crypto', 's3:GetObject', document, false],
    // keys: administration; never a cryptographic operation, never a document.
    ['keys', 'kms:CreateKey', '*', true],
    ['keys', 'kms:PutKeyPolicy', KEY, true],
    ['keys', 'kms:CreateGrant', KEY, true],
    ['keys', 'kms:CreateAlias', ALIAS, true],
    ['keys', 'kms:CreateAlias', KEY, true],
    ['keys', 'kms:ScheduleKeyDeletion', KEY, true],
    ['keys', 'kms:Encrypt', KEY, false],
    ['keys', 'kms:Decrypt', KEY, false],
    ['keys', 'kms:GenerateDataKey', KEY, false],
    ['keys', 's3:GetObject', document, false],
    // keys, jobs, reencrypt: the callers' quota records (keys, aliases; jobs started and finished).
    ['keys', 's3:GetObject', quota, true],
    ['keys', 's3:PutObject', quota, true],
    ['keys', 's3:ListBucket', s3(VAULT), true],
    ['keys', 's3:PutObject', document, false],
    ['keys', 's3:DeleteObject', quota, false],
    ['keys', 's3:PutObject', job, false],
    ['jobs', 's3:GetObject', quota, true],
    ['jobs', 's3:PutObject', quota, true],
    ['jobs', 's3:PutObject', job, true],
    ['jobs', 's3:PutObject', document, false],
    ['jobs', 's3:GetObject', document, false],
    ['reencrypt', 's3:GetObject', quota, true],
    ['reencrypt', 's3:PutObject', quota, true],
    ['whoami', 's3:PutObject', quota, false],
    // whoami: reads what authorization reads, nothing else.
    ['whoami', 'kms:DescribeKey', KEY, true],
    ['whoami', 'kms:GetKeyPolicy', KEY, true],
    ['whoami', 'kms:ListGrants', KEY, true],
    ['whoami', 'kms:Encrypt', KEY, false],
    ['whoami', 'kms:CreateGrant', KEY, false],
    ['whoami', 's3:GetObject', document, false],
  ];
  it.each(cases)('%s: %s on %s is allowed: %s', (fn, action, arn, allowed) => {
    // A key of this deployment (its reserved tag), a new key asking for it, a data key in the S3
    // Encryption Client's context, a grant the API offers; the next tests take each away.
    expect(roleMay(resources, roleOf(fn), action, arn, OURS)).toBe(allowed);
  });

  it("writes and reads S3 only in this account's buckets: a bucket of the same name elsewhere (sniped) is out of reach", () => {
    const elsewhere = { 'aws:ResourceAccount': ['444455556666'] };
    for (const [fn, action, arn] of [
      ['uploads', 's3:PutObject', s3(STAGING, '/incoming/0123abcd')],
      ['seal', 's3:GetObject', s3(STAGING, '/incoming/0123abcd')],
      ['seal', 's3:PutObject', s3(VAULT, '/contracts/a.pdf')],
      ['objects', 's3:GetObject', s3(VAULT, '/contracts/a.pdf')],
      ['objects', 's3:ListBucket', s3(VAULT)],
    ] as const) {
      expect(roleMay(resources, roleOf(fn), action, arn), `${fn} ${action}`).toBe(true);
      expect(roleMay(resources, roleOf(fn), action, arn, elsewhere), `${fn} ${action} elsewhere`).toBe(false);
    }
    // Every S3 Allow of every role carries the condition.
    for (const fn of Object.keys(sls.functions))
      for (const statement of roleStatements(resources, roleOf(fn)))
        if (
          statement.Effect === 'Allow' &&
          statementParts(resources, statement).actions.some((a) => a.startsWith('s3:'))
        )
          expect(statement.Condition?.StringEquals, `${fn} ${statement.Action}`).toMatchObject({
            'aws:ResourceAccount': { Ref: 'AWS::AccountId' },
          });
  });

  it('reaches only the keys of this deployment: untagged keys and other deployments are out of reach', () => {
    const functions = Object.keys(sls.functions);
    for (const fn of functions)
      for (const action of [
        'kms:DescribeKey',
        'kms:GetKeyPolicy',
        'kms:Encrypt',
        'kms:Decrypt',
        'kms:PutKeyPolicy',
      ]) {
        const untagged = { ...OURS, 'aws:ResourceTag/eaas:service': [] };
        const other = { ...OURS, 'aws:ResourceTag/eaas:service': ['eaas-prod'] };
        expect(roleMay(resources, roleOf(fn), action, KEY, untagged), `${fn} ${action} untagged`).toBe(false);
        expect(roleMay(resources, roleOf(fn), action, KEY, other), `${fn} ${action} eaas-prod`).toBe(false);
      }
    // Every KMS statement on key/* carries the tag condition (or is a Deny).
    for (const fn of functions)
      for (const statement of roleStatements(resources, roleOf(fn))) {
        const { actions, arns } = statementParts(resources, statement);
        if (
          statement.Effect === 'Allow' &&
          actions.some((a) => a.startsWith('kms:')) &&
          arns.some((a) => a.includes(':key/'))
        )
          expect(JSON.stringify(statement.Condition ?? {}), `${fn} ${actions}`).toMatch(
            /aws:(Resource|Request)Tag\/eaas:service/,
          );
      }
  });

  it('creates keys only as the service makes them: tagged, of the kinds the API offers, in one Region, with the lockout check', () => {
    const keys = roleOf('keys');
    const create = (extra: Record<string, string[]>) =>
      roleMay(resources, keys, 'kms:CreateKey', '*', { ...OURS, ...extra });
    const spec = {
      'kms:KeySpec': ['SYMMETRIC_DEFAULT'],
      'kms:KeyUsage': ['ENCRYPT_DECRYPT'],
      'kms:KeyOrigin': ['AWS_KMS'],
      'kms:MultiRegion': ['false'],
      'kms:BypassPolicyLockoutSafetyCheck': ['false'],
    };
    expect(create(spec)).toBe(true);
    expect(create({ ...spec, 'aws:RequestTag/eaas:service': [] })).toBe(false);
    expect(create({ ...spec, 'aws:RequestTag/eaas:service': ['eaas-prod'] })).toBe(false);
    // Every kind the API offers (src/core/key-kinds.ts), and no other.
    for (const keySpec of KEY_SPECS)
      expect(create({ ...spec, 'kms:KeySpec': [keySpec] }), keySpec).toBe(true);
    for (const keyUsage of KEY_USAGES) expect(create({ ...spec, 'kms:KeyUsage': [keyUsage] })).toBe(true);
    expect(create({ ...spec, 'kms:KeyOrigin': ['EXTERNAL'] })).toBe(true);
    expect(create({ ...spec, 'kms:KeySpec': ['SM2'] })).toBe(false);
    expect(create({ ...spec, 'kms:KeySpec': ['ML_DSA_44'] })).toBe(false);
    expect(create({ ...spec, 'kms:KeyUsage': ['KEY_AGREEMENT'] })).toBe(false);
    expect(create({ ...spec, 'kms:KeyOrigin': ['AWS_CLOUDHSM'] })).toBe(false);
    expect(create({ ...spec, 'kms:KeyOrigin': ['EXTERNAL_KEY_STORE'] })).toBe(false);
    expect(create({ ...spec, 'kms:MultiRegion': ['true'] })).toBe(false);
    expect(create({ ...spec, 'kms:BypassPolicyLockoutSafetyCheck': ['true'] })).toBe(false);
    // CreateKey's Tags: TagResource on every key, with the reserved tag.
    const KEYS = `arn:aws:kms:${REGION}:${ACCOUNT}:key/*`;
    const noResource = { ...OURS, 'aws:ResourceTag/eaas:service': [] };
    // Allowed on an untagged key too: IAM cannot tell CreateKey's tagging from a later
    // TagResource (the residual risk of docs/deploying.md, "Least privilege").
    expect(roleMay(resources, keys, 'kms:TagResource', KEYS, noResource)).toBe(true);
    expect(
      roleMay(resources, keys, 'kms:TagResource', KEYS, { ...noResource, 'aws:RequestTag/eaas:service': [] }),
    ).toBe(false);
    expect(roleMay(resources, roleOf('crypto'), 'kms:CreateKey', '*', { ...OURS, ...spec })).toBe(false);
  });

  it('can neither remove nor change the reserved tag, bypass the lockout check, or grant more than the API offers', () => {
    const keys = roleOf('keys');
    expect(
      roleMay(resources, keys, 'kms:UntagResource', KEY, { ...OURS, 'aws:TagKeys': ['eaas:service'] }),
    ).toBe(false);
    // Tag keys are case-sensitive in KMS, IAM's condition key names are not.
    expect(
      roleMay(resources, keys, 'kms:UntagResource', KEY, { ...OURS, 'aws:TagKeys': ['EAAS:Service'] }),
    ).toBe(false);
    expect(
      roleMay(resources, keys, 'kms:TagResource', KEY, { ...OURS, 'aws:TagKeys': ['EAAS:SERVICE'] }),
    ).toBe(false);
    expect(
      roleMay(resources, keys, 'kms:TagResource', KEY, {
        ...OURS,
        'aws:RequestTag/eaas:service': ['eaas-prod'],
      }),
    ).toBe(false);
    expect(roleMay(resources, keys, 'kms:TagResource', KEY, OURS)).toBe(false);
    expect(
      roleMay(resources, keys, 'kms:PutKeyPolicy', KEY, {
        ...OURS,
        'kms:BypassPolicyLockoutSafetyCheck': ['true'],
      }),
    ).toBe(false);
    expect(
      roleMay(resources, keys, 'kms:PutKeyPolicy', KEY, {
        ...OURS,
        'kms:BypassPolicyLockoutSafetyCheck': ['false'],
      }),
    ).toBe(true);
    for (const op of GRANT_OPERATIONS)
      expect(
        roleMay(resources, keys, 'kms:CreateGrant', KEY, { ...OURS, 'kms:GrantOperations': ['Decrypt', op] }),
        op,
      ).toBe(true);
    for (const op of ['CreateGrant', 'RetireGrant', 'GenerateDataKeyPair', 'DeriveSharedSecret'])
      expect(
        roleMay(resources, keys, 'kms:CreateGrant', KEY, { ...OURS, 'kms:GrantOperations': ['Decrypt', op] }),
        op,
      ).toBe(false);
  });

  it('the objects function makes and opens data keys only in the S3 Encryption Client context', () => {
    const objects = roleOf('objects');
    for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
      expect(roleMay(resources, objects, action, KEY, OURS)).toBe(true);
      expect(
        roleMay(resources, objects, action, KEY, { ...OURS, 'kms:EncryptionContextKeys': ['tenant'] }),
      ).toBe(false);
    }
  });

  it("the seal makes data keys only for the S3 Encryption Client format (its context's aws:x-amz-cek-alg)", () => {
    const seal = roleOf('seal');
    const may = (keys: string[]) =>
      roleMay(resources, seal, 'kms:GenerateDataKey', KEY, { ...OURS, 'kms:EncryptionContextKeys': keys });
    expect(may(['aws:x-amz-cek-alg'])).toBe(true);
    expect(may(['aws:x-amz-cek-alg', 'tenant'])).toBe(true);
    expect(may(['tenant'])).toBe(false);
    expect(may([])).toBe(false);
    // Its Decrypt (a verified upload's data key) is held to the same context key.
    const decrypt = (keys: string[]) =>
      roleMay(resources, seal, 'kms:Decrypt', KEY, { ...OURS, 'kms:EncryptionContextKeys': keys });
    expect(decrypt(['aws:x-amz-cek-alg', 'tenant'])).toBe(true);
    expect(decrypt(['tenant'])).toBe(false);
    expect(decrypt([])).toBe(false);
  });
});

describe('observability', () => {
  const provider = sls.provider as unknown as {
    tracing?: { lambda?: boolean; apiGateway?: boolean };
    logs?: { restApi?: Record<string, unknown> };
  };
  const alarms = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm');
  const alarmOn = (namespace: string, metric: string, dimension: string, value: unknown) =>
    alarms.filter(([, r]) => {
      const p = (r.Properties ?? {}) as { Namespace?: string; MetricName?: string; Dimensions?: unknown[] };
      return (
        p.Namespace === namespace &&
        p.MetricName === metric &&
        JSON.stringify(p.Dimensions ?? []).includes(JSON.stringify({ Name: dimension, Value: value }))
      );
    });

  it('traces every function and the API stage, with the Tracer recording no response or error', () => {
    // The stage's tracing is on the stage resource (deploy/api-stage.cjs; test/e2e/package.test.ts).
    expect(provider.tracing).toEqual({ lambda: true });
    const env = sls.provider.environment;
    expect(env.POWERTOOLS_TRACE_ENABLED).toBe('true');
    expect(env.POWERTOOLS_TRACER_CAPTURE_RESPONSE).toBe('false');
    expect(env.POWERTOOLS_TRACER_CAPTURE_ERROR).toBe('false');
    expect(env.POWERTOOLS_LOGGER_LOG_EVENT).toBe('false');
    expect(env.POWERTOOLS_METRICS_NAMESPACE).toBe('eaas-dev');
    // Every function's role may send its segments (X-Ray actions take no resource).
    const tracing = resources.TracingWritePolicy?.Properties as { Roles: { Ref: string }[] };
    expect(tracing.Roles.map((r) => r.Ref).sort()).toEqual(
      Object.values(sls.functions)
        .map((fn) => fn.role)
        .sort(),
    );
  });

  it('logs API access as JSON without any body, and no execution data', () => {
    // The framework's own stage logging would apply settings outside the template: not used.
    expect(provider.logs).toBeUndefined();
    const { ACCESS_LOG_FORMAT } = createRequire(import.meta.url)('../../deploy/api-stage.cjs') as {
      ACCESS_LOG_FORMAT: string;
    };
    const format = JSON.parse(ACCESS_LOG_FORMAT) as Record<string, string>;
    for (const variable of [
      'requestId',
      'extendedRequestId',
      'identity.sourceIp',
      'identity.caller',
      'identity.userArn',
      'httpMethod',
      'resourcePath',
      'status',
      'responseLatency',
      'integrationLatency',
      'integration.error',
      'responseLength',
    ])
      expect(Object.values(format)).toContain(`$context.${variable}`);
    // Nothing of a body, a query string, headers or the path (it names objects): the route
    // template ($context.resourcePath) only.
    for (const value of Object.values(format)) {
      expect(value).toMatch(/^\$context\.[\w.]+$/);
      expect(value).not.toMatch(/body|input|override|header|querystring/i);
      expect(value).not.toBe('$context.path');
    }
  });

  it('alarms on the API 5XX rate, each function errors and throttles, and the oldest unsealed upload', () => {
    expect(alarmOn('AWS/ApiGateway', '5XXError', 'ApiName', 'dev-eaas')).toHaveLength(1);
    for (const name of Object.keys(sls.functions)) {
      const ref = { Ref: `${name[0]?.toUpperCase()}${name.slice(1)}LambdaFunction` };
      expect(alarmOn('AWS/Lambda', 'Errors', 'FunctionName', ref), `${name} Errors`).toHaveLength(1);
      expect(alarmOn('AWS/Lambda', 'Throttles', 'FunctionName', ref), `${name} Throttles`).toHaveLength(1);
    }
    const [oldest] = alarmOn('eaas-dev', 'OldestPendingUploadAge', 'function', 'seal');
    expect(oldest?.[1].Properties).toMatchObject({ Statistic: 'Maximum', TreatMissingData: 'breaching' });
  });

  it('notifies the alarm topic only when one is given', () => {
    const conditions = (sls.resources as unknown as { Conditions: Record<string, unknown> }).Conditions;
    expect(conditions.HasAlarmTopic).toEqual({ 'Fn::Not': [{ 'Fn::Equals': ['', ''] }] });
    for (const [id, alarm] of alarms) {
      const p = alarm.Properties as { AlarmActions?: unknown; OKActions?: unknown };
      const ifTopic = { 'Fn::If': ['HasAlarmTopic', [''], { Ref: 'AWS::NoValue' }] };
      expect(p.AlarmActions, id).toEqual(ifTopic);
      expect(p.OKActions, id).toEqual(ifTopic);
    }
  });
});

describe('the template reader these tests rely on', () => {
  it('finds a dependency cycle and a wildcard grant', () => {
    const cyclic: Resources = {
      A: { Type: 'AWS::S3::Bucket', DependsOn: 'B' },
      B: { Type: 'AWS::Lambda::Permission', Properties: { SourceArn: { 'Fn::Sub': 'arn:$' + '{A}' } } },
    };
    expect(dependencyCycle(cyclic)).toEqual(['A', 'B', 'A']);
    const broad: Resources = {
      R: {
        Type: 'AWS::IAM::Role',
        Properties: {
          Policies: [
            {
              PolicyDocument: {
                Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::b/*' }],
              },
            },
          ],
        },
      },
    };
    expect(roleMay(broad, 'R', 's3:DeleteObject', 'arn:aws:s3:::b/k')).toBe(true);
    expect(roleMay(broad, 'R', 's3:DeleteObject', 'arn:aws:s3:::c/k')).toBe(false);
  });
});
