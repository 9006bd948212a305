import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { GRANTEE, KEY_MANAGER, KEY_USER, type S3RequestEvent, SERVICE } from '@eaas/aws-local';
import { downloadDocument, uploadDocument } from '@eaas/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../src/aws/s3.js';
import { s3ClientFor } from '../../src/compose/aws-clients.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * The bucket owner condition on the service's S3 calls (src/aws/s3-owner.ts), through the real
 * SDK over HTTP against the local stack: every request a function (or the stack's own set-up)
 * sends names the configured account in `x-amz-expected-bucket-owner` (a copy also in
 * `x-amz-source-expected-bucket-owner`), and the presigned URLs given to browsers carry none, yet
 * uploads and downloads through them work. A client configured with another account is refused
 * every call with S3's 403 AccessDenied.
 */

let t: TestStack;
let work: string;
const events: S3RequestEvent[] = [];
const presigned = (e: S3RequestEvent) => e.query.includes('X-Amz-Signature');

beforeAll(async () => {
  t = await startTestStack({
    env: { EAAS_REWRAP_TICK_SECONDS: '0' },
    onS3Request: (e) => void events.push(e),
  });
  work = mkdtempSync(join(tmpdir(), 'eaas-owner-'));
});
afterAll(async () => {
  await t.stop();
  rmSync(work, { recursive: true, force: true });
});

async function createKey(administrators: string[], users: string[]): Promise<string> {
  const res = await t
    .client(KEY_MANAGER)
    .raw('POST', '/v1/keys', { description: 'owner', administrators, users });
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  return (res.body as { key: { arn: string } }).key.arn;
}

describe('the service expects its account to own every bucket it calls', () => {
  it('on every call of every function; presigned URLs carry nothing the browser must send', async () => {
    const account = t.config.accountId;
    const arn = (name: string) => `arn:aws:iam::${account}:user/${name}`;
    // Uploads: a single PUT and a multipart one, sealed; downloads through presigned GETs.
    const small = randomBytes(3000);
    const big = randomBytes(17 * 1024 * 1024);
    for (const [key, bytes] of [
      ['owner/small.bin', small],
      ['owner/big.bin', big],
    ] as const) {
      const status = await uploadDocument(t.client(KEY_USER), {
        key,
        keyId: 'alias/eaas-default',
        bytes,
        context: { tenant: 'acme' },
      });
      expect(status.state).toBe('sealed');
      const out = join(work, key.replace('/', '-'));
      await downloadDocument(t.client(KEY_USER), key, out);
      expect(readFileSync(out).equals(bytes)).toBe(true);
    }
    // Documents through the objects function: PUT, GET, list, DELETE.
    const c = t.client(KEY_USER);
    const put = await c.rawBytes('PUT', '/v1/objects/owner%2Fdoc', Buffer.from('hello'), {
      keyId: 'alias/eaas-default',
    });
    expect(put.status).toBe(200);
    expect((await c.rawBytes('GET', '/v1/objects/owner%2Fdoc')).status).toBe(200);
    expect((await c.raw('GET', '/v1/objects', undefined, { prefix: 'owner/' })).status).toBe(200);
    // A re-encryption job: its in-place copies name the source bucket's owner too.
    const keyA = await createKey([arn(KEY_MANAGER), arn(GRANTEE)], [arn(KEY_USER)]);
    const keyB = await createKey([arn(KEY_MANAGER), arn(GRANTEE)], [arn(KEY_USER)]);
    const moved = await c.rawBytes('PUT', '/v1/objects/moved%2Fdoc', Buffer.from('x'), { keyId: keyA });
    expect(moved.status).toBe(200);
    const job = await t.client(GRANTEE).startReEncryptJob({
      sourceKeyId: keyA,
      destinationKeyId: keyB,
      prefix: 'moved/',
    });
    await t.stack.rewrapTick();
    expect((await t.client(GRANTEE).getJob(job.id)).state).toBe('succeeded');
    expect((await c.raw('DELETE', '/v1/objects/owner%2Fdoc')).body).toMatchObject({ deleted: true });

    // Only the service's clients spoke to S3 so far (and the test's client only to the API).
    const direct = events.filter((e) => !presigned(e));
    const links = events.filter(presigned);
    expect(direct.length).toBeGreaterThan(20);
    expect(direct.filter((e) => e.expectedBucketOwner !== account)).toEqual([]);
    const copies = direct.filter((e) => e.copy);
    expect(copies.length).toBeGreaterThan(0);
    expect(copies.filter((e) => e.expectedSourceBucketOwner !== account)).toEqual([]);
    // The links: single PUT, parts, and GETs, none with an expected owner, in a header or the query.
    expect(links.map((e) => e.method).sort()).toEqual(['GET', 'GET', 'PUT', 'PUT', 'PUT', 'PUT']);
    expect(links.filter((e) => e.expectedBucketOwner !== undefined)).toEqual([]);
    expect(links.filter((e) => e.query.includes('x-amz-expected-bucket-owner'))).toEqual([]);
    expect(links.every((e) => e.status === 200)).toBe(true);
  });

  it('configured with another account, every call is refused with 403 AccessDenied', async () => {
    const service = t.principal(SERVICE);
    const elsewhere: S3Client = s3ClientFor(
      { ...t.config, s3Endpoint: t.stack.s3.endpoint, accountId: '999999999999' },
      { accessKeyId: service.accessKeyId, secretAccessKey: service.secretAccessKey },
    );
    const Bucket = t.config.vaultBucket;
    const existing = await t.s3(SERVICE).send(new ListObjectsV2Command({ Bucket, Prefix: 'owner/' }));
    const Key = existing.Contents?.[0]?.Key ?? '';
    expect(Key).not.toBe('');
    const refusal = (p: Promise<unknown>) =>
      p.then(
        () => 'allowed',
        (e: { name?: string; $metadata?: { httpStatusCode?: number } }) =>
          `${e.$metadata?.httpStatusCode} ${e.name}`,
      );
    try {
      const answers = [
        await refusal(elsewhere.send(new PutObjectCommand({ Bucket, Key: 'owner/elsewhere', Body: 'x' }))),
        await refusal(elsewhere.send(new GetObjectCommand({ Bucket, Key }))),
        await refusal(elsewhere.send(new ListObjectsV2Command({ Bucket }))),
        await refusal(elsewhere.send(new DeleteObjectCommand({ Bucket, Key }))),
        await refusal(elsewhere.send(new CreateMultipartUploadCommand({ Bucket, Key: 'owner/elsewhere' }))),
        // The target's owner given as right: the source's, set by the client, is refused.
        await refusal(
          elsewhere.send(
            new CopyObjectCommand({
              Bucket,
              Key: 'owner/copy',
              CopySource: `${Bucket}/${Key}`,
              ExpectedBucketOwner: t.config.accountId,
            }),
          ),
        ),
      ];
      expect(answers).toEqual(Array(6).fill('403 AccessDenied'));
      // HEAD has no body: S3 answers a bare 403.
      expect(await refusal(elsewhere.send(new HeadObjectCommand({ Bucket, Key })))).toMatch(/^403 /);
      // Nothing was written or removed.
      const after = await t.s3(SERVICE).send(new ListObjectsV2Command({ Bucket, Prefix: 'owner/' }));
      expect(after.Contents?.map((o) => o.Key)).toEqual(existing.Contents?.map((o) => o.Key));
      // The links the same client signs carry no expected owner (s3-owner.ts): this one works.
      const url = await new S3ObjectStore(elsewhere, Bucket).presignGet(Key, 60);
      expect(new URL(url).searchParams.has('x-amz-expected-bucket-owner')).toBe(false);
      expect((await fetch(url)).status).toBe(200);
    } finally {
      elsewhere.destroy();
    }
  });
});
