import { createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GRANTEE, KEY_MANAGER, KEY_USER } from '@eaas/aws-local';
import { downloadDocument, type WrappingAlgorithm, wrapKeyMaterial } from '@eaas/client';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, S3Event, S3EventRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localValues } from '../../local/emulator-options.js';
import { readTemplateRoles } from '../../local/template-roles.js';
import { matchRoute, ROUTES } from '../../src/http/routes.js';
import {
  type LambdaInstance,
  type PackagedService,
  packagedService,
  resolvedEnvironment,
  startLambda,
} from '../helpers/bundles.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * Every sample event of events/, given to the packaged bundle of its function (the zips of
 * `osls package`, unzipped, their handler required by a plain Node process per function, as Lambda
 * runs them) against the local stack: each function in the environment the template gives it,
 * resolved for the local stack's account, region, buckets, audit log group and page-token secret,
 * with its role's credentials, traced to a local X-Ray daemon address; only the services'
 * endpoints are the local stack's. The samples' example values (account, region, staging bucket,
 * key, upload, grant and job ids, ETags, ciphertexts) are replaced with the local stack's, in
 * every string and in JSON bodies. Each answer is checked, and an event of events/ that no test
 * here sends fails the suite.
 */

const EVENTS = join(import.meta.dirname, '..', '..', 'events');
/** Every event of events/, in the order the tests below send them. */
const COVERED = [
  // crypto, whoami
  'encrypt',
  'encrypt-batch',
  'decrypt',
  're-encrypt',
  'data-keys',
  'whoami',
  'sign',
  'verify',
  'get-public-key',
  'generate-mac',
  'verify-mac',
  // keys
  'create-key',
  'list-keys',
  'describe-key',
  'get-key-policy',
  'put-key-policy',
  'get-key-rotation',
  'put-key-rotation',
  'rotate-key',
  'list-key-rotations',
  'create-grant',
  'list-grants',
  'revoke-grant',
  'put-alias',
  'list-aliases',
  'delete-alias',
  'disable-key',
  'enable-key',
  'schedule-key-deletion',
  'cancel-key-deletion',
  'get-import-parameters',
  'import-key-material',
  'delete-key-material',
  // objects
  'put-object',
  'head-object',
  'get-object',
  'list-objects',
  'create-download',
  'stream-object',
  'delete-object',
  // uploads and the seal
  'create-upload',
  'seal-object-created',
  'get-upload',
  'resume-upload',
  'complete-upload',
  'seal-sweep-schedule',
  'cancel-upload',
  // re-encryption jobs
  'start-re-encrypt-job',
  'reencrypt-schedule',
  'get-job',
  'cancel-job',
  'list-jobs',
  'rewrapbatch-task',
];

/** The samples' example values (events/README.md), replaced by the local stack's. */
const SAMPLE = {
  account: '111122223333',
  region: 'us-east-1',
  stagingBucket: 'eaas-dev-staging-111122223333-us-east-1',
  keyId: '1234abcd-12ab-34cd-56ef-1234567890ab',
  grantId: '0c237476b39f8bc44e45212e08498fbe3151305030726c0590dd8d3e9f3d6a60',
  uploadId: '5f2b6c1d9e8a7b3c4d0e1f2a3b4c5d6e',
  jobId: '8d3f1a2b-6c4e-4f70-9a1b-2c3d4e5f6a7b',
  ciphertext: 'AQIDBAUGBwgJCgsMDQ4PEA==',
  signature: 'c2FtcGxlIHNpZ25hdHVyZSBvZiB0aGUgbWVzc2FnZQ==',
  mac: 'c2FtcGxlIE1BQyBvZiB0aGUgbWVzc2FnZSwgdGhpcnR5dHdv',
  importToken: 'c2FtcGxlIGltcG9ydCB0b2tlbg==',
  wrappedMaterial: 'c2FtcGxlIHdyYXBwZWQga2V5IG1hdGVyaWFs',
};
/** The local stack's account and region: not the samples', so that a value left unreplaced shows. */
const ACCOUNT = '210987654321';
const REGION = 'eu-west-1';
/** The vault's name as CloudFormation would generate it (VaultBucket has no BucketName). */
const VAULT = 'eaas-local-vaultbucket-1q2w3e4r5t6y';

type Swap = readonly [sample: string, local: string];

let service: PackagedService;
let t: TestStack;
let daemon: Socket;
let segments = 0;
const lambdas: Record<string, LambdaInstance> = {};
const invoked = new Set<string>();
const staged: S3EventRecord[] = [];
let work: string;

/** The replacements every event gets: account, region and staging bucket. */
let everywhere: Swap[] = [];

function readSample(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(EVENTS, `${name}.json`), 'utf8')) as Record<string, unknown>;
}

/** The sample with its example values replaced, in every string and inside JSON bodies. */
function sample<T>(name: string, swaps: readonly Swap[] = []): T {
  const all = [...swaps, ...everywhere];
  const swap = (s: string) => all.reduce((out, [from, to]) => out.replaceAll(from, to), s);
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return swap(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
  };
  const event = walk(readSample(name)) as Record<string, unknown>;
  const type = String((event.headers as Record<string, string> | undefined)?.['Content-Type'] ?? '');
  if (event.isBase64Encoded === true && type.startsWith('application/json')) {
    const body = walk(JSON.parse(Buffer.from(String(event.body), 'base64').toString('utf8')));
    event.body = Buffer.from(JSON.stringify(body), 'utf8').toString('base64');
  }
  return event as T;
}

interface Answer {
  statusCode: number;
  headers: Record<string, string>;
  raw: Buffer;
  // biome-ignore lint/suspicious/noExplicitAny: the answers' shapes are the API's, checked field by field
  json: any;
}

/** Sends an API sample to the bundle of the function its route belongs to. */
async function call(name: string, swaps: readonly Swap[] = []): Promise<Answer> {
  const event = sample<APIGatewayProxyEvent>(name, swaps);
  const route = ROUTES.find((r) => r.method === event.httpMethod && r.path === event.resource);
  if (!route) throw new Error(`${name}: no route ${event.httpMethod} ${event.resource}`);
  invoked.add(name);
  const res = await lambda(route.function).invoke<APIGatewayProxyResult>(event);
  const raw = Buffer.from(res.body ?? '', res.isBase64Encoded ? 'base64' : 'utf8');
  const headers = (res.headers ?? {}) as Record<string, string>;
  const json = String(headers['Content-Type']).startsWith('application/json')
    ? JSON.parse(raw.toString('utf8'))
    : undefined;
  return { statusCode: res.statusCode, headers, raw, json };
}

/** Sends a trigger's sample (S3, EventBridge) to a function's bundle. */
async function trigger<R>(fn: string, name: string, swaps: readonly Swap[] = []): Promise<R> {
  invoked.add(name);
  return lambda(fn).invoke<R>(sample(name, swaps));
}

function lambda(fn: string): LambdaInstance {
  const l = lambdas[fn];
  if (!l) throw new Error(`no function ${fn}`);
  return l;
}

const ok = (res: Answer) => expect(res.statusCode, res.raw.toString('utf8')).toBe(200);
const arnOf = (name: string) => `arn:aws:iam::${ACCOUNT}:user/${name}`;
const sampleBody = (name: string) =>
  Buffer.from(String(readSample(name).body), 'base64').toString('utf8') as string;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  service = await packagedService('local');
  // The X-Ray daemon's address Lambda gives traced functions: segments are UDP datagrams.
  daemon = createSocket('udp4');
  daemon.on('message', () => {
    segments++;
  });
  await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
  // As Secrets Manager generates it (PageTokenSecret): 64 letters and digits, the base64 of 48 bytes.
  const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const secret = [...randomBytes(64)].map((b) => letters[b % letters.length]).join('');
  const secretArn = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:PageTokenSecret-AbCdEf`;
  const auditGroup = service.template.Resources.AuditLogGroup?.Properties.LogGroupName as string;
  const deployed = (fn: string) =>
    resolvedEnvironment(
      service.functions[fn]?.environment ?? {},
      {
        'AWS::AccountId': ACCOUNT,
        'AWS::Region': REGION,
        'AWS::Partition': 'aws',
        VaultBucket: VAULT,
        AuditLogGroup: auditGroup,
        PageTokenSecret: secretArn,
        // The roles' ARNs as the local stack names its functions' principals.
        ...Object.fromEntries(
          ['Crypto', 'Objects', 'Streams', 'Seal', 'Reencrypt', 'Rewrapbatch', 'Keys', 'Uploads'].map((r) => [
            `${r}Role.Arn`,
            `arn:aws:iam::${ACCOUNT}:role/eaas-local-${r.toLowerCase()}`,
          ]),
        ),
        // The batch engine's function and the role S3 Batch Operations assumes (no local S3
        // Batch Operations yet: the jobs here stay under the threshold, on the scheduled engine).
        'RewrapbatchLambdaFunction.Arn': `arn:aws:lambda:${REGION}:${ACCOUNT}:function:eaas-local-rewrapbatch`,
        'BatchOperationsRole.Arn': `arn:aws:iam::${ACCOUNT}:role/eaas-local-batch-operations`,
      },
      { [secretArn]: secret },
    );
  // The local stack's settings are the deployed functions': same buckets, log group and secret.
  const settings = deployed('seal');
  t = await startTestStack({
    env: {
      EAAS_ACCOUNT_ID: ACCOUNT,
      EAAS_REGION: REGION,
      EAAS_VAULT_BUCKET: settings.EAAS_VAULT_BUCKET,
      EAAS_STAGING_BUCKET: settings.EAAS_STAGING_BUCKET,
      EAAS_AUDIT_LOG_GROUP: settings.EAAS_AUDIT_LOG_GROUP,
      EAAS_PAGE_TOKEN_SECRET: settings.EAAS_PAGE_TOKEN_SECRET,
      // No timer: the schedules' events are sent to the bundles by the tests.
      EAAS_SWEEP_SECONDS: '0',
      EAAS_REWRAP_TICK_SECONDS: '0',
    },
    // The staging bucket's notifications go to the seal's bundle, sent by the tests.
    seal: async () => undefined,
    onObjectCreated: (record) => void staged.push(record),
  });
  everywhere = [
    [SAMPLE.stagingBucket, t.config.stagingBucket],
    [SAMPLE.account, ACCOUNT],
    [SAMPLE.region, REGION],
  ];
  const roles = readTemplateRoles(localValues(t.config));
  const started = Object.values(service.functions).map(async (fn) => {
    const role = t.principal(roles[fn.name]?.name ?? '');
    lambdas[fn.name] = await startLambda(
      fn,
      {
        PATH: process.env.PATH ?? '',
        LANG: 'en_US.UTF-8',
        TZ: ':UTC',
        LAMBDA_TASK_ROOT: fn.root,
        _HANDLER: fn.handler,
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
        AWS_LAMBDA_FUNCTION_NAME: fn.functionName,
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
        AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
        AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.functionName}`,
        AWS_LAMBDA_LOG_STREAM_NAME: `2026/06/01/[$LATEST]${randomBytes(16).toString('hex')}`,
        AWS_REGION: REGION,
        AWS_DEFAULT_REGION: REGION,
        AWS_ACCESS_KEY_ID: role.accessKeyId,
        AWS_SECRET_ACCESS_KEY: role.secretAccessKey,
        ...(role.sessionToken ? { AWS_SESSION_TOKEN: role.sessionToken } : {}),
        AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${daemon.address().port}`,
        AWS_XRAY_CONTEXT_MISSING: 'LOG_ERROR',
        ...deployed(fn.name),
        // The one difference from AWS: the services' endpoints are the local stack's.
        EAAS_KMS_ENDPOINT: t.stack.kms.endpoint,
        EAAS_S3_ENDPOINT: t.stack.s3.endpoint,
        EAAS_LOGS_ENDPOINT: t.stack.logs.endpoint,
      },
      { accountId: ACCOUNT, region: REGION },
    );
  });
  await Promise.all(started);
  work = mkdtempSync(join(tmpdir(), 'eaas-bundle-events-'));
}, 180_000);

afterAll(async () => {
  await Promise.all(Object.values(lambdas).map((l) => l.stop()));
  await t?.stop();
  daemon?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the sample events of events/', () => {
  it('are each covered here, and cover every route of the API and every function', () => {
    const listing = readdirSync(EVENTS)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.replace(/\.json$/, ''))
      .sort();
    expect(listing).toEqual([...COVERED].sort());
    const api = listing.map(readSample).filter((e) => 'httpMethod' in e);
    for (const route of ROUTES)
      expect(
        api.some((e) => e.httpMethod === route.method && e.resource === route.path),
        `${route.method} ${route.path}`,
      ).toBe(true);
    expect(Object.keys(service.functions).sort()).toEqual(
      [
        'crypto',
        'jobs',
        'keys',
        'objects',
        'reencrypt',
        'rewrapbatch',
        'seal',
        'streams',
        'uploads',
        'whoami',
      ].sort(),
    );
  });

  it('are shaped as API Gateway delivers them: proxy events v1.0 of an IAM caller, every body base64-encoded', () => {
    for (const name of COVERED) {
      const e = readSample(name) as unknown as APIGatewayProxyEvent;
      if (!('httpMethod' in e)) continue;
      const matched = matchRoute(e.httpMethod, e.path);
      expect(matched?.route.path, name).toBe(e.resource);
      expect(e.pathParameters ?? {}, name).toEqual({ ...matched?.pathParameters });
      expect(e.requestContext, name).toMatchObject({
        httpMethod: e.httpMethod,
        resourcePath: e.resource,
        path: `/${e.requestContext.stage}${e.path}`,
        accountId: SAMPLE.account,
      });
      expect(e.requestContext.identity.userArn, name).toMatch(/^arn:aws:iam::\d{12}:user\//);
      // binaryMediaTypes */*: whatever its Content-Type, a body arrives base64-encoded.
      expect(e.isBase64Encoded, name).toBe(e.body !== null);
      for (const [k, v] of Object.entries(e.headers)) expect(e.multiValueHeaders[k], name).toEqual([v]);
      for (const [k, v] of Object.entries(e.queryStringParameters ?? {}))
        expect(e.multiValueQueryStringParameters?.[k], name).toEqual([v]);
    }
    const s3 = readSample('seal-object-created') as unknown as S3Event;
    expect(s3.Records[0]).toMatchObject({
      eventSource: 'aws:s3',
      eventName: expect.stringMatching(/^ObjectCreated:/),
      s3: {
        bucket: { name: SAMPLE.stagingBucket, arn: `arn:aws:s3:::${SAMPLE.stagingBucket}` },
        object: { key: `incoming/${SAMPLE.uploadId}` },
      },
    });
    for (const name of ['seal-sweep-schedule', 'reencrypt-schedule'])
      expect(readSample(name), name).toMatchObject({
        'detail-type': 'Scheduled Event',
        source: 'aws.events',
        detail: {},
      });
  });
});

describe('crypto and whoami bundles', () => {
  let ciphertext = '';

  it('encrypt.json: 200, a KMS ciphertext under the default key', async () => {
    const res = await call('encrypt');
    ok(res);
    expect(res.json).toMatchObject({
      format: 'kms',
      keyId: expect.stringMatching(new RegExp(`^arn:aws:kms:${REGION}:${ACCOUNT}:key/`)),
    });
    ciphertext = res.json.ciphertext;
  });

  it('encrypt-batch.json: 200, one item encrypted and one refused', async () => {
    const res = await call('encrypt-batch');
    ok(res);
    expect(res.json.items[0]).toHaveProperty('ciphertext');
    expect(res.json.items[1]).toMatchObject({ error: 'AccessDenied', index: 1 });
  });

  it("decrypt.json (encrypt.json's ciphertext): 200, the plaintext", async () => {
    const res = await call('decrypt', [[SAMPLE.ciphertext, ciphertext]]);
    ok(res);
    expect(res.json).toMatchObject({ plaintext: 'aGVsbG8sIHdvcmxk' });
  });

  it("re-encrypt.json (encrypt.json's ciphertext): 200, another ciphertext", async () => {
    const res = await call('re-encrypt', [[SAMPLE.ciphertext, ciphertext]]);
    ok(res);
    expect(res.json.ciphertext).toEqual(expect.any(String));
    expect(res.json.ciphertext).not.toBe(ciphertext);
  });

  it('data-keys.json: 200, the wrapped key only', async () => {
    const res = await call('data-keys');
    ok(res);
    expect(res.json).toHaveProperty('ciphertext');
    expect(res.json).not.toHaveProperty('plaintext');
  });

  it('whoami.json: 200, the caller and what it may do on the key', async () => {
    const res = await call('whoami');
    ok(res);
    expect(res.json).toMatchObject({ principal: arnOf(KEY_USER), key: { state: 'Enabled' } });
  });
});

describe('signatures and MACs (crypto bundle)', () => {
  let signer = '';
  let hmac = '';
  let signature = '';
  let mac = '';

  beforeAll(async () => {
    const manager = t.client(KEY_MANAGER);
    signer = (await manager.createKey({ keySpec: 'ECC_NIST_P256', users: [arnOf(KEY_USER)] })).key.keyId;
    hmac = (await manager.createKey({ keySpec: 'HMAC_256', users: [arnOf(KEY_USER)] })).key.keyId;
  });

  it('sign.json (a P-256 signing key): 200, an ECDSA_SHA_256 signature', async () => {
    const res = await call('sign', [[SAMPLE.keyId, signer]]);
    ok(res);
    expect(res.json).toMatchObject({ algorithm: 'ECDSA_SHA_256', messageType: 'RAW' });
    signature = res.json.signature;
  });

  it("verify.json (sign.json's signature): 200, valid", async () => {
    const res = await call('verify', [
      [SAMPLE.keyId, signer],
      [SAMPLE.signature, signature],
    ]);
    ok(res);
    expect(res.json).toMatchObject({ valid: true });
  });

  it('get-public-key.json: 200, DER and PEM', async () => {
    const res = await call('get-public-key', [[SAMPLE.keyId, signer]]);
    ok(res);
    expect(res.json).toMatchObject({
      keySpec: 'ECC_NIST_P256',
      publicKeyPem: expect.stringContaining('PUBLIC KEY'),
    });
  });

  it('generate-mac.json (an HMAC_256 key): 200, a MAC', async () => {
    const res = await call('generate-mac', [[SAMPLE.keyId, hmac]]);
    ok(res);
    expect(res.json).toMatchObject({ algorithm: 'HMAC_SHA_256' });
    mac = res.json.mac;
  });

  it("verify-mac.json (generate-mac.json's MAC): 200, valid", async () => {
    const res = await call('verify-mac', [
      [SAMPLE.keyId, hmac],
      [SAMPLE.mac, mac],
    ]);
    ok(res);
    expect(res.json).toMatchObject({ valid: true });
  });
});

describe('key material (keys bundle)', () => {
  let keyId = '';
  let params: { importToken: string; publicKey: string; wrappingAlgorithm: WrappingAlgorithm };

  beforeAll(async () => {
    keyId = (await t.client(KEY_MANAGER).createKey({ origin: 'EXTERNAL' })).key.keyId;
  });

  it('get-import-parameters.json (an EXTERNAL key): 200, a wrapping key and token', async () => {
    const res = await call('get-import-parameters', [[SAMPLE.keyId, keyId]]);
    ok(res);
    expect(res.json).toMatchObject({ wrappingKeySpec: 'RSA_4096', wrappingAlgorithm: 'RSAES_OAEP_SHA_256' });
    params = res.json;
  });

  it('import-key-material.json (material wrapped with those): 200, Enabled', async () => {
    const wrapped = wrapKeyMaterial(randomBytes(32), params.publicKey, params.wrappingAlgorithm);
    const res = await call('import-key-material', [
      [SAMPLE.keyId, keyId],
      [SAMPLE.importToken, params.importToken],
      [SAMPLE.wrappedMaterial, wrapped.toString('base64')],
    ]);
    ok(res);
    expect(res.json.key).toMatchObject({ state: 'Enabled', origin: 'EXTERNAL' });
  });

  it('delete-key-material.json: 200, PendingImport', async () => {
    const res = await call('delete-key-material', [[SAMPLE.keyId, keyId]]);
    ok(res);
    expect(res.json.key).toMatchObject({ state: 'PendingImport' });
  });
});

describe('keys bundle', () => {
  let keyId = '';
  let grantId = '';
  const key = (): Swap[] => [[SAMPLE.keyId, keyId]];
  const alias = 'alias/myKeyManager/payments-current';

  it('create-key.json: 200, a key the caller administers, with its alias and users', async () => {
    const res = await call('create-key');
    ok(res);
    expect(res.json).toMatchObject({
      key: { arn: expect.stringMatching(new RegExp(`^arn:aws:kms:${REGION}:${ACCOUNT}:key/`)) },
      alias: 'alias/myKeyManager/payments',
      users: [arnOf(KEY_USER)],
    });
    expect(res.json.administrators).toContain(arnOf(KEY_MANAGER));
    keyId = res.json.key.keyId;
  });

  it('list-keys.json: 200, the new key among them', async () => {
    const res = await call('list-keys');
    ok(res);
    expect(res.json.keys.map((k: { keyId: string }) => k.keyId)).toContain(keyId);
  });

  it('describe-key.json: 200, the default key', async () => {
    const res = await call('describe-key');
    ok(res);
    expect(res.json.key).toMatchObject({ state: 'Enabled', aliases: ['alias/eaas-default'] });
  });

  it('get-key-policy.json: 200, its administrators and users', async () => {
    const res = await call('get-key-policy', key());
    ok(res);
    expect(res.json).toMatchObject({ managed: true, users: [arnOf(KEY_USER)] });
    expect(res.json.administrators).toContain(arnOf(KEY_MANAGER));
  });

  it('put-key-policy.json: 200, a user added', async () => {
    const res = await call('put-key-policy', key());
    ok(res);
    expect([...res.json.users].sort()).toEqual([arnOf(GRANTEE), arnOf(KEY_USER)].sort());
  });

  it('get-key-rotation.json: 200, rotation on by default', async () => {
    const res = await call('get-key-rotation', key());
    ok(res);
    expect(res.json).toMatchObject({ enabled: true, periodInDays: 365 });
  });

  it('put-key-rotation.json: 200, every 180 days', async () => {
    const res = await call('put-key-rotation', key());
    ok(res);
    expect(res.json).toMatchObject({ enabled: true, periodInDays: 180 });
  });

  it('rotate-key.json: 200', async () => {
    const res = await call('rotate-key', key());
    ok(res);
    expect(res.json.keyId).toContain(keyId);
  });

  it('list-key-rotations.json: 200, the rotation on demand', async () => {
    const res = await call('list-key-rotations', key());
    ok(res);
    expect(res.json.rotations).toContainEqual(expect.objectContaining({ rotationType: 'ON_DEMAND' }));
  });

  it('create-grant.json: 200, a grant id and token', async () => {
    const res = await call('create-grant', key());
    ok(res);
    expect(res.json).toMatchObject({ grantId: expect.any(String), grantToken: expect.any(String) });
    grantId = res.json.grantId;
  });

  it('list-grants.json: 200, the grant to myGrantee', async () => {
    const res = await call('list-grants', key());
    ok(res);
    expect(res.json.grants).toContainEqual(
      expect.objectContaining({ grantId, grantee: arnOf(GRANTEE), operations: ['Encrypt', 'Decrypt'] }),
    );
  });

  it('revoke-grant.json: 200, revoked', async () => {
    const res = await call('revoke-grant', [...key(), [SAMPLE.grantId, grantId]]);
    ok(res);
    expect(res.json).toMatchObject({ grantId, revoked: true });
  });

  it('put-alias.json: 200, created under the caller’s prefix', async () => {
    const res = await call('put-alias', key());
    ok(res);
    expect(res.json).toMatchObject({ alias, created: true });
  });

  it('list-aliases.json: 200, both aliases of the key', async () => {
    const res = await call('list-aliases', key());
    ok(res);
    expect(res.json.aliases.map((a: { name: string }) => a.name).sort()).toEqual(
      ['alias/myKeyManager/payments', alias].sort(),
    );
  });

  it('delete-alias.json: 200, deleted', async () => {
    const res = await call('delete-alias');
    ok(res);
    expect(res.json).toMatchObject({ alias, deleted: true });
  });

  it('disable-key.json, enable-key.json: 200, Disabled then Enabled', async () => {
    const disabled = await call('disable-key', key());
    ok(disabled);
    expect(disabled.json.key.state).toBe('Disabled');
    const enabled = await call('enable-key', key());
    ok(enabled);
    expect(enabled.json.key.state).toBe('Enabled');
  });

  it('schedule-key-deletion.json, cancel-key-deletion.json: PendingDeletion in 7 days, then Disabled', async () => {
    const scheduled = await call('schedule-key-deletion', key());
    ok(scheduled);
    expect(scheduled.json.key).toMatchObject({ state: 'PendingDeletion', pendingWindowInDays: 7 });
    const cancelled = await call('cancel-key-deletion', key());
    ok(cancelled);
    expect(cancelled.json.key.state).toBe('Disabled');
  });
});

describe('objects bundle', () => {
  const docKey = 'contracts/2026/acme.txt';
  const bytes = () => Buffer.from(String(readSample('put-object').body), 'base64');

  it('put-object.json: 200, stored as S3EC V3 under the default key', async () => {
    const res = await call('put-object');
    ok(res);
    expect(res.json).toMatchObject({ key: docKey, format: 's3ec-v3', size: bytes().length });
  });

  it('head-object.json: 200, its metadata as headers', async () => {
    const res = await call('head-object');
    ok(res);
    expect(res.headers).toMatchObject({
      'x-eaas-size': String(bytes().length),
      'x-eaas-context': '{"tenant":"acme"}',
      'x-eaas-owner': arnOf(KEY_USER),
    });
    expect(res.raw.length).toBe(0);
  });

  it('get-object.json: 200, the document, decrypted', async () => {
    const res = await call('get-object');
    ok(res);
    expect(res.raw.equals(bytes())).toBe(true);
    expect(res.headers['Content-Type']).toMatch(/^text\/plain/);
  });

  it('list-objects.json: 200, the document under the prefix', async () => {
    const res = await call('list-objects');
    ok(res);
    expect(res.json.objects).toContainEqual(expect.objectContaining({ key: docKey, size: bytes().length }));
  });

  it('create-download.json: 200, a presigned GET of the ciphertext and the key that opens it', async () => {
    const res = await call('create-download');
    ok(res);
    expect(res.json.url.startsWith(`${t.stack.s3.endpoint}/${t.config.vaultBucket}/`)).toBe(true);
    const stored = Buffer.from(await (await fetch(res.json.url)).arrayBuffer());
    const { key, iv, aad } = res.json.cipher as { key: string; iv: string; aad: string };
    const decipher = createDecipheriv('aes-256-gcm', Buffer.from(key, 'base64'), Buffer.from(iv, 'base64'));
    decipher.setAAD(Buffer.from(aad, 'base64'));
    decipher.setAuthTag(stored.subarray(-16));
    const opened = Buffer.concat([decipher.update(stored.subarray(0, -16)), decipher.final()]);
    expect(opened.equals(bytes())).toBe(true);
  });

  it('stream-object.json: the streams bundle streams the document after a 200 prelude', async () => {
    const event = sample<APIGatewayProxyEvent>('stream-object');
    invoked.add('stream-object');
    const out = await lambda('streams').invoke<{ streamed: string }>(event);
    const streamed = Buffer.from(out.streamed, 'base64');
    const at = streamed.indexOf(Buffer.alloc(8));
    const prelude = JSON.parse(streamed.subarray(0, at).toString('utf8'));
    expect(prelude.statusCode, streamed.toString('utf8')).toBe(200);
    expect(prelude.headers).toMatchObject({
      'x-eaas-size': String(bytes().length),
      'Cache-Control': 'no-store',
    });
    expect(streamed.subarray(at + 8).equals(bytes())).toBe(true);
  });

  it('delete-object.json: 200, deleted; the API no longer finds it', async () => {
    const res = await call('delete-object');
    ok(res);
    expect(res.json).toMatchObject({ key: docKey, deleted: true });
    const path = `/v1/objects/${encodeURIComponent(docKey)}`;
    const after = await t.client(KEY_USER).raw('GET', path, undefined, { metadata: '' });
    expect(after.status).toBe(404);
  });
});

describe('uploads and seal bundles', () => {
  const docKey = 'reports/2026/q2.txt';
  let uploadId = '';
  let uploaded: Buffer;

  it('create-upload.json: 200, a presigned PUT into staging; the bytes go there', async () => {
    const res = await call('create-upload');
    ok(res);
    expect(res.json).toMatchObject({ key: docKey, state: 'pending', method: 'PUT', size: 2048 });
    uploadId = res.json.id;
    uploaded = Buffer.from('quarterly report, sealed by the bundled seal\n'.repeat(64).slice(0, 2048));
    const put = await fetch(res.json.url, { method: 'PUT', headers: res.json.headers, body: uploaded });
    expect(put.status, await put.text()).toBe(200);
    expect(staged.map((r) => r.s3.object.key)).toContain(`incoming/${uploadId}`);
  });

  it('seal-object-created.json: the seal bundle seals the upload named in the notification', async () => {
    const record = staged.find((r) => r.s3.object.key === `incoming/${uploadId}`);
    const sampleTag = (readSample('seal-object-created') as unknown as S3Event).Records[0]?.s3.object.eTag;
    const out = await trigger<{ outcomes: Record<string, string> }>('seal', 'seal-object-created', [
      [SAMPLE.uploadId, uploadId],
      [sampleTag ?? '', record?.s3.object.eTag ?? ''],
    ]);
    expect(out).toEqual({ outcomes: { [uploadId]: 'sealed' } });
  });

  it('get-upload.json: 200, sealed; the document reads back through the API', async () => {
    const res = await call('get-upload', [[SAMPLE.uploadId, uploadId]]);
    ok(res);
    expect(res.json).toMatchObject({ id: uploadId, state: 'sealed', object: { format: 's3ec-v3' } });
    const got = await t.client(KEY_USER).rawBytes('GET', `/v1/objects/${encodeURIComponent(docKey)}`);
    expect(got.status).toBe(200);
    expect(Buffer.from(got.bytes).equals(uploaded)).toBe(true);
  });

  it('resume-upload.json and complete-upload.json: 200 for a multipart upload; seal-sweep-schedule.json: the sweep seals it', async () => {
    const big = randomBytes(16 * 1024 * 1024 + 1);
    const created = await t.client(KEY_USER).raw('POST', '/v1/uploads', {
      key: 'reports/2026/big.bin',
      keyId: 'alias/eaas-default',
      size: big.length,
    });
    expect(created.status).toBe(200);
    const upload = created.body as {
      id: string;
      method: string;
      parts: { partNumber: number; url: string; size: number }[];
    };
    expect(upload.method).toBe('multipart');
    let offset = 0;
    const etags: string[] = [];
    for (const part of upload.parts) {
      const res = await fetch(part.url, { method: 'PUT', body: big.subarray(offset, offset + part.size) });
      expect(res.status).toBe(200);
      etags.push(res.headers.get('etag') ?? '');
      offset += part.size;
    }
    const resumed = await call('resume-upload', [[SAMPLE.uploadId, upload.id]]);
    ok(resumed);
    expect(resumed.json).toMatchObject({ id: upload.id, parts: [{ partNumber: 2 }] });
    expect((resumed.json as { uploaded: unknown[] }).uploaded).toHaveLength(etags.length);
    const sampleTags = (JSON.parse(sampleBody('complete-upload')) as { parts: { etag: string }[] }).parts;
    expect(sampleTags).toHaveLength(etags.length);
    const completed = await call('complete-upload', [
      [SAMPLE.uploadId, upload.id],
      ...sampleTags.map((p, i): Swap => [p.etag, etags[i] ?? '']),
    ]);
    ok(completed);
    expect(completed.json).toMatchObject({ id: upload.id, state: 'pending' });

    const swept = await trigger<{ outcomes: { sweep: string } }>('seal', 'seal-sweep-schedule');
    expect(JSON.parse(swept.outcomes.sweep)).toMatchObject({ sealed: 1, failed: 0 });
    const out = join(work, 'big.bin');
    const got = await downloadDocument(t.client(KEY_USER), 'reports/2026/big.bin', out);
    expect(got.size).toBe(big.length);
    expect(sha(readFileSync(out))).toBe(sha(big));
  });

  it('cancel-upload.json: 200, failed as Cancelled', async () => {
    const created = await t
      .client(KEY_USER)
      .raw('POST', '/v1/uploads', { key: 'reports/2026/never.txt', keyId: 'alias/eaas-default', size: 10 });
    expect(created.status).toBe(200);
    const id = (created.body as { id: string }).id;
    const res = await call('cancel-upload', [[SAMPLE.uploadId, id]]);
    ok(res);
    expect(res.json).toMatchObject({ id, state: 'failed', error: { code: 'Cancelled' } });
  });
});

describe('jobs and reencrypt bundles', () => {
  let jobId = '';
  let destination = '';
  const docs = new Map<string, Buffer>();

  beforeAll(async () => {
    // The sample's keys, by the aliases it names, and documents under the source key.
    const body = JSON.parse(sampleBody('start-re-encrypt-job')) as Record<string, string>;
    const keys: string[] = [];
    for (const alias of [body.sourceKeyId, body.destinationKeyId]) {
      const res = await t.client(KEY_MANAGER).raw('POST', '/v1/keys', {
        description: 'archive',
        users: [arnOf(KEY_USER)],
        alias,
      });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      keys.push((res.body as { key: { arn: string } }).key.arn);
    }
    destination = keys[1] ?? '';
    for (const i of [0, 1, 2]) {
      const key = `${body.prefix}doc-${i}`;
      const bytes = randomBytes(100 * (i + 1));
      const res = await t
        .client(KEY_USER)
        .rawBytes('PUT', `/v1/objects/${encodeURIComponent(key)}`, bytes, { keyId: keys[0] ?? '' });
      expect(res.status).toBe(200);
      docs.set(key, bytes);
    }
  });

  it('start-re-encrypt-job.json: 200, a pending job from the source key to the destination', async () => {
    const res = await call('start-re-encrypt-job');
    ok(res);
    expect(res.json).toMatchObject({ state: 'pending', mode: 'source-key', destinationKeyId: destination });
    jobId = res.json.id;
  });

  it('reencrypt-schedule.json: the worker runs the job; get-job.json: 200, succeeded', async () => {
    const out = await trigger<{ ran: string[] }>('reencrypt', 'reencrypt-schedule');
    expect(out.ran).toEqual([jobId]);
    const res = await call('get-job', [[SAMPLE.jobId, jobId]]);
    ok(res);
    expect(res.json).toMatchObject({
      id: jobId,
      state: 'succeeded',
      report: { summary: expect.any(String) },
    });
    for (const [key, bytes] of docs) {
      const path = `/v1/objects/${encodeURIComponent(key)}`;
      const view = await t.client(KEY_USER).raw('GET', path, undefined, { metadata: '' });
      expect(view.body, key).toMatchObject({ keyId: destination });
      const got = await t.client(KEY_USER).rawBytes('GET', path);
      expect(Buffer.from(got.bytes).equals(bytes), key).toBe(true);
    }
  });

  it('cancel-job.json: 409 InvalidState, the job has finished (and stays succeeded)', async () => {
    const res = await call('cancel-job', [[SAMPLE.jobId, jobId]]);
    expect(res.statusCode, res.raw.toString('utf8')).toBe(409);
    expect(res.json).toMatchObject({ error: 'InvalidState' });
    const view = await call('get-job', [[SAMPLE.jobId, jobId]]);
    expect(view.json).toMatchObject({ id: jobId, state: 'succeeded' });
  });

  it("list-jobs.json: 200, the caller's job, newest first", async () => {
    const res = await call('list-jobs');
    ok(res);
    expect(res.json.jobs.map((j: { id: string }) => j.id)).toEqual([jobId]);
  });

  it('rewrapbatch-task.json: the batch function reads the job record, and refuses a job the scheduled engine runs', async () => {
    const out = await trigger<{ results: { taskId: string; resultCode: string; resultString: string }[] }>(
      'rewrapbatch',
      'rewrapbatch-task',
      [
        [SAMPLE.jobId, jobId],
        ['eaas-dev-vaultbucket-1a2b3c4d5e6f', VAULT],
      ],
    );
    expect(out).toMatchObject({
      invocationSchemaVersion: '2.0',
      treatMissingKeysAs: 'PermanentFailure',
      results: [
        {
          taskId: 'dGFza2lkZ29lc2hlcmUK',
          resultCode: 'PermanentFailure',
          resultString: `job refused: job ${jobId} is not run by S3 Batch Operations`,
        },
      ],
    });
  });
});

describe('after every event', () => {
  it('each was sent to its bundle, each API function audited into the template’s log group, and traced', () => {
    expect([...invoked].sort()).toEqual([...COVERED].sort());
    const streams = [...t.stack.logs.store.group(t.stack.auditLogGroup).streams.keys()];
    for (const fn of ['crypto', 'whoami', 'keys', 'objects', 'streams', 'uploads', 'jobs'])
      expect(
        streams.some((s) => s.startsWith(`${fn}/`)),
        fn,
      ).toBe(true);
    expect(segments).toBeGreaterThan(0);
  });

  it('no bundle logged an error', () => {
    for (const l of Object.values(lambdas))
      expect(
        l
          .output()
          .split('\n')
          .filter((line) => line.includes('"level":"ERROR"')),
        l.fn.name,
      ).toEqual([]);
  });
});
