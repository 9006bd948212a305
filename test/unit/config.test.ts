import { describe, expect, it } from 'vitest';
import { loadStackConfig } from '../../local/config.js';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('loadConfig', () => {
  it('gives the documented defaults', () => {
    expect(loadConfig({})).toMatchObject({
      accountId: '111122223333',
      region: 'us-east-1',
      vaultBucket: 'eaas-vault',
      stagingBucket: 'eaas-staging',
      objectPrefix: '',
    });
    expect(loadStackConfig({})).toMatchObject({
      dataDir: '.eaas',
      host: '127.0.0.1',
      kmsPort: 4599,
      apiPort: 3000,
      accountId: '111122223333',
      region: 'us-east-1',
      rootKey: undefined,
      sigv4MaxSkewSeconds: 300,
      sweepSeconds: 60,
      rewrapTickSeconds: 300,
      s3Port: 4569,
      s3ControlPort: 4570,
      batchConcurrency: 16,
      localLatencyMs: 0,
      vaultBucket: 'eaas-vault',
    });
  });

  it('keeps the local stack settings out of the service configuration', () => {
    const service = loadConfig({}) as unknown as Record<string, unknown>;
    for (const local of Object.keys(loadStackConfig({})).filter((k) => !(k in loadConfig({}))))
      expect(service[local], local).toBeUndefined();
    expect(Object.keys(loadStackConfig({}))).toEqual(
      expect.arrayContaining(['dataDir', 'host', 'kmsPort', 'apiPort', 's3Port', 'rootKey', 'sweepSeconds']),
    );
    expect(Object.keys(loadConfig({}))).not.toEqual(expect.arrayContaining(['dataDir']));
  });

  it('lists every bad setting in one error', () => {
    expect(() =>
      loadStackConfig({ EAAS_API_PORT: 'x', EAAS_ACCOUNT_ID: '1', EAAS_SWEEP_SECONDS: '-1' }),
    ).toThrow(
      /EAAS_ACCOUNT_ID: must be a 12-digit AWS account id; EAAS_API_PORT: must be a whole number from 1 to 65535, not "x"; EAAS_SWEEP_SECONDS: must be a whole number from 0 to 86400/,
    );
  });

  it('takes the local S3 settings', () => {
    expect(
      loadStackConfig({
        EAAS_S3_PORT: '4570',
        EAAS_VAULT_BUCKET: 'my.vault-1',
        EAAS_STAGING_BUCKET: 'my-staging',
        EAAS_OBJECT_PREFIX: 'eaas/docs/',
      }),
    ).toMatchObject({
      s3Port: 4570,
      vaultBucket: 'my.vault-1',
      stagingBucket: 'my-staging',
      objectPrefix: 'eaas/docs/',
    });
  });

  it.each([
    ['EAAS_VAULT_BUCKET', 'ab'],
    ['EAAS_VAULT_BUCKET', 'Upper-Case'],
    ['EAAS_VAULT_BUCKET', 'under_score'],
    ['EAAS_VAULT_BUCKET', '-starts-with-hyphen'],
    ['EAAS_VAULT_BUCKET', 'two..dots'],
    ['EAAS_VAULT_BUCKET', '192.168.1.1'],
    ['EAAS_VAULT_BUCKET', 'xn--punycode'],
    ['EAAS_VAULT_BUCKET', 'alias-s3alias'],
    ['EAAS_VAULT_BUCKET', 'a'.repeat(64)],
    ['EAAS_STAGING_BUCKET', '../escape'],
    ['EAAS_STAGING_BUCKET', 'eaas-vault'],
    ['EAAS_OBJECT_PREFIX', '/absolute/'],
    ['EAAS_OBJECT_PREFIX', 'spaces are not safe/'],
    ['EAAS_S3_PORT', '0'],
    ['EAAS_S3CONTROL_PORT', '65536'],
    ['EAAS_BATCH_CONCURRENCY', '0'],
    ['EAAS_LOCAL_LATENCY_MS', '-1'],
    ['EAAS_LOCAL_LATENCY_MS', '10001'],
  ])('fails fast on a bad %s (%s), naming it', (name, value) => {
    expect(() => loadStackConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadStackConfig({ [name]: value })).toThrow(name);
  });

  it('takes the page-token secret as base64 of 32 bytes or more, and requires it on Lambda only', () => {
    const secret = Buffer.alloc(32, 7).toString('base64');
    expect(loadConfig({ EAAS_PAGE_TOKEN_SECRET: secret }).pageTokenSecret).toEqual(Buffer.alloc(32, 7));
    expect(loadConfig({}).pageTokenSecret).toBeUndefined();
    for (const bad of [Buffer.alloc(31).toString('base64'), 'not base64!', 'YWJj'])
      expect(() => loadConfig({ EAAS_PAGE_TOKEN_SECRET: bad })).toThrow('EAAS_PAGE_TOKEN_SECRET');
    const onLambda = () => loadConfig({ AWS_LAMBDA_FUNCTION_NAME: 'eaas-dev-objects' });
    expect(onLambda).toThrow(ConfigError);
    expect(onLambda).toThrow(/EAAS_PAGE_TOKEN_SECRET: is required on AWS Lambda/);
    expect(
      loadConfig({
        AWS_LAMBDA_FUNCTION_NAME: 'eaas-dev-objects',
        EAAS_PAGE_TOKEN_SECRET: secret,
        EAAS_AUDIT_LOG_GROUP: '/eaas/dev/audit',
        EAAS_SERVICE_ROLE_ARNS: 'arn:aws:iam::111122223333:role/eaas-dev-crypto',
        EAAS_ADMIN_ROLE_ARNS: 'arn:aws:iam::111122223333:role/eaas-dev-keys',
      }).pageTokenSecret,
    ).toHaveLength(32);
  });

  it("requires the service's roles on Lambda (key policies name them), IAM role ARNs only", () => {
    const lambda = {
      AWS_LAMBDA_FUNCTION_NAME: 'eaas-dev-keys',
      EAAS_PAGE_TOKEN_SECRET: Buffer.alloc(32, 7).toString('base64'),
      EAAS_AUDIT_LOG_GROUP: '/eaas/dev/audit',
    };
    expect(() => loadConfig(lambda)).toThrow(/EAAS_SERVICE_ROLE_ARNS: is required on AWS Lambda/);
    expect(() => loadConfig(lambda)).toThrow(/EAAS_ADMIN_ROLE_ARNS: is required on AWS Lambda/);
    expect(
      loadConfig({ EAAS_ADMIN_ROLE_ARNS: 'arn:aws:iam::111122223333:role/eaas-dev-keys' }).adminRoleArns,
    ).toEqual(['arn:aws:iam::111122223333:role/eaas-dev-keys']);
    expect(() => loadConfig({ EAAS_ADMIN_ROLE_ARNS: 'arn:aws:iam::111122223333:role/*' })).toThrow(
      'EAAS_ADMIN_ROLE_ARNS',
    );
    const two = 'arn:aws:iam::111122223333:role/eaas-dev-crypto,arn:aws:iam::111122223333:role/eaas-dev-seal';
    const keys = 'arn:aws:iam::111122223333:role/eaas-dev-keys';
    expect(
      loadConfig({ ...lambda, EAAS_SERVICE_ROLE_ARNS: two, EAAS_ADMIN_ROLE_ARNS: keys }).serviceRoleArns,
    ).toEqual(two.split(','));
    for (const bad of [
      'arn:aws:iam::111122223333:user/alice',
      'arn:aws:iam::111122223333:root',
      'eaas-dev-crypto',
    ])
      expect(() => loadConfig({ EAAS_SERVICE_ROLE_ARNS: bad }), bad).toThrow('EAAS_SERVICE_ROLE_ARNS');
    expect(loadConfig({}).serviceRoleArns).toBeUndefined();
  });

  it('requires the audit log group on Lambda, and takes only a log group name', () => {
    const secret = Buffer.alloc(32, 7).toString('base64');
    const onLambda = (env: NodeJS.ProcessEnv) =>
      loadConfig({
        AWS_LAMBDA_FUNCTION_NAME: 'eaas-dev-crypto',
        EAAS_PAGE_TOKEN_SECRET: secret,
        EAAS_SERVICE_ROLE_ARNS: 'arn:aws:iam::111122223333:role/eaas-dev-crypto',
        EAAS_ADMIN_ROLE_ARNS: 'arn:aws:iam::111122223333:role/eaas-dev-keys',
        ...env,
      });
    expect(() => onLambda({})).toThrow(/EAAS_AUDIT_LOG_GROUP: is required on AWS Lambda/);
    expect(onLambda({ EAAS_AUDIT_LOG_GROUP: '/eaas/dev/audit' }).auditLogGroup).toBe('/eaas/dev/audit');
    expect(() => loadConfig({ EAAS_AUDIT_LOG_GROUP: 'no spaces allowed' })).toThrow('EAAS_AUDIT_LOG_GROUP');
    expect(loadConfig({}).auditLogGroup).toBeUndefined();
  });

  it('bounds the objects one listing call examines (1-1000, 1000 by default)', () => {
    expect(loadConfig({}).listScanObjects).toBe(1000);
    expect(loadConfig({ EAAS_LIST_SCAN_OBJECTS: '10' }).listScanObjects).toBe(10);
    for (const bad of ['0', '1001', 'many'])
      expect(() => loadConfig({ EAAS_LIST_SCAN_OBJECTS: bad })).toThrow('EAAS_LIST_SCAN_OBJECTS');
  });

  it.each(['j', 'jo', 'job', 'jobs', 'jobs/', 'jobs/x/'])(
    'refuses an object prefix %s that would put documents among the job records',
    (prefix) => {
      expect(() => loadConfig({ EAAS_OBJECT_PREFIX: prefix })).toThrow('EAAS_OBJECT_PREFIX');
    },
  );

  it('bounds the local gateway body budget between one Lambda payload and 1 GiB (issue 12, finding 7)', () => {
    expect(loadStackConfig({}).gatewayBodyBytesInFlight).toBe(64 * 1024 * 1024);
    expect(loadStackConfig({ EAAS_GATEWAY_BODY_BYTES_IN_FLIGHT: '8388608' }).gatewayBodyBytesInFlight).toBe(
      8388608,
    );
    for (const bad of ['1000', String(2 * 1024 ** 3), 'lots'])
      expect(() => loadStackConfig({ EAAS_GATEWAY_BODY_BYTES_IN_FLIGHT: bad })).toThrow(
        /EAAS_GATEWAY_BODY_BYTES_IN_FLIGHT/,
      );
  });

  it('is frozen', () => {
    expect(Object.isFrozen(loadConfig({}))).toBe(true);
    expect(Object.isFrozen(loadStackConfig({}))).toBe(true);
  });

  it.each([
    ['EAAS_KMS_ENDPOINT', 'ftp://kms.example'],
    ['EAAS_KMS_ENDPOINT', 'not a url'],
    ['EAAS_ENVELOPE_VERSION', 'v4'],
    ['EAAS_AUTHZ_CACHE_SECONDS', '301'],
    ['EAAS_MAX_UPLOAD_BYTES', '1.5'],
    ['EAAS_OBJECT_PREFIX', 'x'.repeat(257)],
  ])('fails fast on a bad service setting %s (%s), naming it', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });

  it.each([
    ['EAAS_KMS_PORT', 'abc'],
    ['EAAS_KMS_PORT', '70000'],
    ['EAAS_ACCOUNT_ID', '123'],
    ['EAAS_REGION', 'mars'],
    ['EAAS_ROOT_KEY', Buffer.alloc(16).toString('base64')],
    ['EAAS_HOST', '0.0.0.0'],
    ['EAAS_QUOTA_KEYS_PER_CALLER', '0'],
    ['EAAS_QUOTA_JOBS_PER_CALLER', 'many'],
    ['EAAS_ALIAS_OPERATORS', 'myKeyManager'],
    ['EAAS_OBJECT_PREFIX', 'quotas/docs/'],
  ])('fails fast on a bad %s, naming it', (name, value) => {
    expect(() => loadStackConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadStackConfig({ [name]: value })).toThrow(name);
  });

  it('takes the per-caller quotas and the alias operators (unset: none configured)', () => {
    expect(loadConfig({})).toMatchObject({
      quotas: { keys: 100, aliases: 100, jobs: 10 },
      aliasOperators: undefined,
    });
    const ops = 'arn:aws:iam::111122223333:role/platform, arn:aws:iam::111122223333:user/ops';
    expect(loadConfig({ EAAS_QUOTA_KEYS_PER_CALLER: '3', EAAS_ALIAS_OPERATORS: ops })).toMatchObject({
      quotas: { keys: 3 },
      aliasOperators: ['arn:aws:iam::111122223333:role/platform', 'arn:aws:iam::111122223333:user/ops'],
    });
    expect(loadConfig({ EAAS_ALIAS_OPERATORS: '' }).aliasOperators).toEqual([]);
  });

  it('decodes a root key', () => {
    const key = Buffer.alloc(32, 1);
    expect(loadStackConfig({ EAAS_ROOT_KEY: key.toString('base64') }).rootKey?.equals(key)).toBe(true);
  });
});
