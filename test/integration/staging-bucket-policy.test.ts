import { randomBytes } from 'node:crypto';
import { DescribeKeyCommand } from '@aws-sdk/client-kms';
import {
  GetBucketPolicyCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { KEY_USER, SERVICE } from '@eaas/aws-local';
import { uploadDocument } from '@eaas/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localValues } from '../../local/emulator-options.js';
import { readBucketPolicy, readTemplateRoles } from '../../local/template-roles.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * The staging bucket's policy of serverless.yml (StagingBucketPolicy), applied by the local stack
 * at start with the local role and bucket ARNs: only the seal role reads uploaded plaintext
 * (OnlyTheSealReadsUploads), whatever the caller's IAM policies allow, the account's root-like
 * service principal included; writes may not ask for another encryption (OnlyStagingKeyEncryption,
 * OnlyStagingKey). The TLS-only statement is left out locally (plain HTTP).
 */

let t: TestStack;
/** A staged object the test puts itself: the seal leaves it alone. */
const HELD = 'incoming/held-by-the-test';

beforeAll(async () => {
  t = await startTestStack({
    seal: (record, sealDefault) =>
      decodeURIComponent(record.s3.object.key) === HELD ? Promise.resolve() : sealDefault(record),
  });
});
afterAll(() => t.stop());

const status = (p: Promise<unknown>) =>
  p.then(
    () => 'allowed',
    (e: { name?: string; $metadata?: { httpStatusCode?: number } }) => `${e.$metadata?.httpStatusCode}`,
  );

describe("the staging bucket's policy, as deployed", () => {
  it('is read from serverless.yml with the local ARNs, without the TLS-only statement', async () => {
    const policy = readBucketPolicy(localValues(t.config), 'StagingBucket');
    const roles = readTemplateRoles(localValues(t.config));
    expect(policy?.leftOut).toEqual([
      { statement: 'TlsOnly', why: expect.stringMatching(/SecureTransport/) },
    ]);
    const sids = policy?.document.Statement.map((s) => s.Sid);
    expect(sids).toEqual([
      'OnlyTheSealReadsUploads',
      'OnlyStagingKeyEncryption',
      'OnlyStagingKey',
      'OnlyStagingKeyNamed',
    ]);
    expect(policy?.document.Statement[0]).toMatchObject({
      Effect: 'Deny',
      Action: 's3:GetObject',
      Resource: `arn:aws:s3:::${t.config.stagingBucket}/incoming/*`,
      Condition: { ArnNotEquals: { 'aws:PrincipalArn': roles.seal?.arn } },
    });
    expect(roles.seal?.arn).toBe(`arn:aws:iam::${t.config.accountId}:role/eaas-local-seal`);
    // The stack put it on the local staging bucket.
    const stored = await t.s3(SERVICE).send(new GetBucketPolicyCommand({ Bucket: t.config.stagingBucket }));
    expect(JSON.parse(stored.Policy ?? '{}')).toEqual(policy?.document);
  });

  it('only the seal role reads an upload: the service principal and the uploads role get 403', async () => {
    const Bucket = t.config.stagingBucket;
    // Writing is not reading: the service principal (the account's root here) may put it.
    await t.s3(SERVICE).send(new PutObjectCommand({ Bucket, Key: HELD, Body: 'plaintext' }));
    const roles = readTemplateRoles(localValues(t.config));
    const as = (fn: string) => t.s3(roles[fn]?.name ?? '');
    expect(await status(t.s3(SERVICE).send(new GetObjectCommand({ Bucket, Key: HELD })))).toBe('403');
    expect(await status(t.s3(SERVICE).send(new HeadObjectCommand({ Bucket, Key: HELD })))).toBe('403');
    expect(await status(as('uploads').send(new GetObjectCommand({ Bucket, Key: HELD })))).toBe('403');
    expect(await status(as('objects').send(new GetObjectCommand({ Bucket, Key: HELD })))).toBe('403');
    const read = await as('seal').send(new GetObjectCommand({ Bucket, Key: HELD }));
    expect(await read.Body?.transformToString()).toBe('plaintext');
    // The Deny is on incoming/ only: the upload records stay readable to whom IAM allows.
    expect(await status(t.s3(SERVICE).send(new ListObjectsV2Command({ Bucket, Prefix: 'incoming/' })))).toBe(
      'allowed',
    );
  });

  it('refuses a write that names another encryption, or any KMS key (no StagingKey exists locally)', async () => {
    const Bucket = t.config.stagingBucket;
    const s3 = t.s3(SERVICE);
    const sseS3 = new PutObjectCommand({
      Bucket,
      Key: 'incoming/sse-s3',
      Body: 'x',
      ServerSideEncryption: 'AES256',
    });
    expect(await status(s3.send(sseS3))).toBe('403');
    const seed = await t.kms(KEY_USER).send(new DescribeKeyCommand({ KeyId: 'alias/eaas-default' }));
    const otherKey = new PutObjectCommand({
      Bucket,
      Key: 'incoming/other-key',
      Body: 'x',
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: seed.KeyMetadata?.Arn,
    });
    expect(await status(s3.send(otherKey))).toBe('403');
    // aws:kms naming no key would be the AWS managed aws/s3 key.
    const managedKey = new PutObjectCommand({
      Bucket,
      Key: 'incoming/managed-key',
      Body: 'x',
      ServerSideEncryption: 'aws:kms',
    });
    expect(await status(s3.send(managedKey))).toBe('403');
  });

  it('uploads still seal: the seal reads what the browser put', async () => {
    const bytes = randomBytes(2048);
    const sealed = await uploadDocument(t.client(KEY_USER), {
      key: 'policy/doc.bin',
      keyId: 'alias/eaas-default',
      bytes,
      context: { tenant: 'acme' },
    });
    expect(sealed).toMatchObject({ state: 'sealed', size: 2048 });
  });
});
