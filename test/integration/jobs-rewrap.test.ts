import { randomBytes } from 'node:crypto';
import { GRANTEE, KEY_MANAGER, KEY_USER, OUTSIDER, SERVICE } from '@eaas/aws-local';
import type { EaasClient } from '@eaas/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { visibleCounts } from '../../src/core/rewrap-job.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';
import { S3Log, unwrapKeyOf, workerFor, writeForeign } from './jobs-fixtures.js';

/**
 * Re-encryption jobs end to end, through the real SDK clients against the local KMS and S3: a
 * campaign from key A to key B over mixed objects (S3EC V2 and V3, header in metadata or in an
 * instruction file, several sizes, written by the API and by an independent writer), started and
 * watched through the API by an operator who administers both A and B.
 */

let t: TestStack;
let bucket: string;
const log = new S3Log();
/** myGrantee plays the operator: administrator of A and B (the README's recipe). */
const OPERATOR = GRANTEE;
/** myOutsider administers B and uses A: not enough to move A's documents. */
const HALF = OUTSIDER;
let keyA: string;
let keyB: string;
const originals = new Map<string, Buffer>();

/** The objects of the campaign: under docs/ and under key A. */
const campaign = () => [...originals.keys()].filter((k) => k.startsWith('docs/') && k !== 'docs/other-key');

const arn = (name: string) => `arn:aws:iam::${t.config.accountId}:user/${name}`;

async function createKey(administrators: string[], users: string[]): Promise<string> {
  const res = await t
    .client(KEY_MANAGER)
    .raw('POST', '/v1/keys', { description: 'jobs', administrators, users });
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  return (res.body as { key: { arn: string } }).key.arn;
}

async function putViaApi(key: string, body: Buffer, keyId: string, context: Record<string, string>) {
  const res = await t.client(KEY_USER).rawBytes('PUT', `/v1/objects/${encodeURIComponent(key)}`, body, {
    keyId,
    context: JSON.stringify(context),
  });
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  originals.set(key, body);
}

async function readViaApi(c: EaasClient, key: string) {
  return c.rawBytes('GET', `/v1/objects/${encodeURIComponent(key)}`);
}

/** The counts of a job's record about objects under its keys (operators' only: the view has none). */
async function countsOf(id: string) {
  const found = await t.stack.rewrap.load(id);
  if (!found) throw new Error(`no job ${id}`);
  return visibleCounts(found.job);
}

/** A context too large for S3's 2 KB of metadata: the API writes an instruction file. */
const bigContext = { tenant: 'acme', a: 'x'.repeat(1000), b: 'y'.repeat(1000) };

beforeAll(async () => {
  t = await startTestStack({ env: { EAAS_REWRAP_TICK_SECONDS: '0' }, onS3Request: log.listener });
  bucket = t.config.vaultBucket;
  keyA = await createKey([arn(KEY_MANAGER), arn(OPERATOR)], [arn(KEY_USER), arn(HALF)]);
  keyB = await createKey([arn(KEY_MANAGER), arn(OPERATOR), arn(HALF)], [arn(KEY_USER)]);
  const sizes = [0, 1, 1000, 70_000];
  for (const [i, size] of sizes.entries()) {
    await putViaApi(`docs/api-v3-${i}`, randomBytes(size), keyA, { tenant: 'acme' });
    await putViaApi(`docs/api-v3-instr-${i}`, randomBytes(size), keyA, bigContext);
  }
  const kms = t.kms(KEY_USER);
  const s3 = t.s3(SERVICE);
  for (const version of ['v2', 'v3'] as const)
    for (const instruction of [false, true])
      for (const [i, size] of [5, 40_000].entries()) {
        const key = `docs/foreign-${version}-${instruction ? 'instr' : 'meta'}-${i}`;
        const plaintext = randomBytes(size);
        await writeForeign(kms, s3, bucket, {
          key,
          keyId: keyA,
          plaintext,
          version,
          instruction,
          context: { tenant: 'acme' },
        });
        originals.set(key, plaintext);
      }
  // Not for this job: under another key, and outside the prefix.
  await putViaApi('docs/other-key', Buffer.from('under the default key'), 'alias/eaas-default', {});
  await putViaApi('elsewhere/doc', Buffer.from('outside the prefix'), keyA, {});
});
afterAll(() => t.stop());

describe('POST /v1/jobs/re-encrypt: who may start a job', () => {
  it('refuses a caller who administers the destination but only uses the source', async () => {
    for (const dryRun of [false, true]) {
      const res = await t.client(HALF).raw('POST', '/v1/jobs/re-encrypt', {
        sourceKeyId: keyA,
        destinationKeyId: keyB,
        dryRun,
      });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: 'AccessDenied' });
      expect((res.body as { message: string }).message).toContain(
        `administer the key ${keyA} (kms:PutKeyPolicy)`,
      );
    }
  });

  it('refuses a user of both keys who does not administer the destination', async () => {
    const res = await t.client(KEY_USER).raw('POST', '/v1/jobs/re-encrypt', {
      sourceKeyId: keyA,
      destinationKeyId: keyB,
    });
    expect(res.status).toBe(403);
    expect((res.body as { message: string }).message).toContain('administer');
  });

  it('answers 400 ValidationError for both or neither of sourceKeyId and olderThanRotation, and bad fields', async () => {
    const c = t.client(OPERATOR);
    for (const body of [
      { destinationKeyId: keyB },
      { sourceKeyId: keyA, olderThanRotation: true, destinationKeyId: keyB },
      { sourceKeyId: keyA, destinationKeyId: keyB, concurrency: 0 },
      { sourceKeyId: keyA, destinationKeyId: keyB, prefix: 'jobs/' },
      { sourceKeyId: keyA, destinationKeyId: keyB, surprise: 1 },
    ]) {
      const res = await c.raw('POST', '/v1/jobs/re-encrypt', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body).toMatchObject({ error: 'ValidationError' });
    }
  });

  it('answers 404 NotFound for an unknown job, and refuses object keys under jobs/', async () => {
    const res = await t.client(OPERATOR).raw('GET', '/v1/jobs/00000000-0000-0000-0000-000000000000');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ error: 'NotFound' });
    const put = await t
      .client(KEY_USER)
      .rawBytes('PUT', '/v1/objects/jobs%2Fx.json', Buffer.from('x'), { keyId: keyA });
    expect(put.status).toBe(400);
  });
});

describe('a campaign from key A to key B', () => {
  it('dry-runs first: counts what it would do (in its record), and changes nothing', async () => {
    const c = t.client(OPERATOR);
    const started = await c.startReEncryptJob({
      sourceKeyId: keyA,
      destinationKeyId: keyB,
      prefix: 'docs/',
      dryRun: true,
    });
    expect(started).toMatchObject({ state: 'pending', dryRun: true, mode: 'source-key' });
    const mark = log.mark();
    await t.stack.rewrapTick();
    const view = await c.getJob(started.id);
    expect(view.state).toBe('succeeded');
    // The view counts nothing; the record counts the objects under the job's keys: the API's eight under A.
    expect(view).not.toHaveProperty('counts');
    expect(view).not.toHaveProperty('total');
    expect(await countsOf(started.id)).toEqual({ rewrapped: 8, alreadyCurrent: 0, skipped: {}, failed: {} });
    // The record keeps the rest for operators: every docs/ object, the foreign ones (a dry run
    // cannot tell their key without KMS) and docs/other-key.
    const record = (await t.stack.rewrap.load(started.id))?.job;
    expect(record?.total).toBe(17);
    expect(record?.counts.skipped).toEqual({ 'other-key': 1, 'unknown-key': 8 });
    // Besides its own record: the creator's quota record (the finished job's slot given back).
    const records = (key: string) => key.startsWith('jobs/') || key.startsWith('quotas/');
    const writes = log.since(mark).filter((e) => e.method === 'PUT' && !records(e.key));
    expect(writes).toEqual([]);
  });

  it('re-wraps every object onto B without reading a body; each decrypts to its bytes; A can be disabled', async () => {
    const c = t.client(OPERATOR);
    const started = await c.startReEncryptJob({
      sourceKeyId: keyA,
      destinationKeyId: keyB,
      prefix: 'docs/',
      concurrency: 3,
    });
    const mark = log.mark();
    await t.stack.rewrapTick();
    const during = log.since(mark);
    const view = await c.getJob(started.id);
    expect(view.state).toBe('succeeded');
    expect(await countsOf(started.id)).toEqual({ rewrapped: 16, alreadyCurrent: 0, skipped: {}, failed: {} });
    expect(view).not.toHaveProperty('counts');
    expect(view.report?.summary).toMatch(/^The job finished\. /);
    expect(view.report?.summary).not.toMatch(/\d/);
    const record = (await t.stack.rewrap.load(started.id))?.job;
    expect(record?.counts).toMatchObject({ scanned: 17, skipped: { 'other-key': 1 } });
    expect(record?.finishedAt).toBeDefined();

    // The job read no document body: no GET of a document key, and no body bytes served for one.
    const documentReads = during.filter(
      (e) =>
        e.method === 'GET' &&
        e.key !== '' &&
        !e.key.endsWith('.instruction') &&
        !e.key.startsWith('jobs/') &&
        !e.key.startsWith('quotas/'),
    );
    expect(documentReads).toEqual([]);
    // Each object was written once: one metadata copy each, one instruction file each where there is one.
    for (const key of campaign()) {
      expect(
        during.filter((e) => e.key === key && e.copy && e.status === 200),
        key,
      ).toHaveLength(1);
    }

    const kms = t.kms(KEY_USER);
    const s3 = t.s3(SERVICE);
    for (const key of campaign()) {
      expect(await unwrapKeyOf(kms, s3, bucket, key), key).toBe(keyB);
    }
    expect(await unwrapKeyOf(kms, s3, bucket, 'docs/other-key')).not.toBe(keyB);
    expect(await unwrapKeyOf(kms, s3, bucket, 'elsewhere/doc')).toBe(keyA);

    const disabled = await t.client(KEY_MANAGER).raw('POST', `/v1/keys/${encodeURIComponent(keyA)}/disable`);
    expect(disabled.status, JSON.stringify(disabled.body)).toBe(200);
    try {
      for (const [key, body] of originals) {
        if (!key.startsWith('docs/')) continue;
        const got = await readViaApi(t.client(KEY_USER), key);
        expect(got.status, key).toBe(200);
        expect(Buffer.from(got.bytes).equals(body), key).toBe(true);
      }
    } finally {
      await t.client(KEY_MANAGER).raw('POST', `/v1/keys/${encodeURIComponent(keyA)}/enable`);
    }
  });

  it('running the same campaign again re-wraps nothing twice', async () => {
    const c = t.client(OPERATOR);
    const started = await c.startReEncryptJob({ sourceKeyId: keyA, destinationKeyId: keyB, prefix: 'docs/' });
    const mark = log.mark();
    await t.stack.rewrapTick();
    expect((await c.getJob(started.id)).state).toBe('succeeded');
    expect(await countsOf(started.id)).toMatchObject({ rewrapped: 0, alreadyCurrent: 16 });
    expect(log.since(mark).filter((e) => e.copy)).toEqual([]);
  });

  it('re-wraps onto current material after a rotation (olderThanRotation), once', async () => {
    const c = t.client(OPERATOR);
    expect((await c.raw('POST', `/v1/keys/${encodeURIComponent(keyB)}/rotate`)).status).toBe(200);
    const first = await c.startReEncryptJob({
      olderThanRotation: true,
      destinationKeyId: keyB,
      prefix: 'docs/',
    });
    expect(first.mode).toBe('older-than-rotation');
    await t.stack.rewrapTick();
    expect((await c.getJob(first.id)).state).toBe('succeeded');
    expect(await countsOf(first.id)).toMatchObject({ rewrapped: 16, failed: {} });
    const again = await c.startReEncryptJob({
      olderThanRotation: true,
      destinationKeyId: keyB,
      prefix: 'docs/',
    });
    await t.stack.rewrapTick();
    expect(await countsOf(again.id)).toMatchObject({ rewrapped: 0, alreadyCurrent: 16 });
    for (const [key, body] of originals) {
      if (!key.startsWith('docs/')) continue;
      const got = await readViaApi(t.client(KEY_USER), key);
      expect(Buffer.from(got.bytes).equals(body), key).toBe(true);
    }
  });

  it('shows a job only to an administrator of both its keys', async () => {
    const started = await t.client(OPERATOR).startReEncryptJob({
      sourceKeyId: keyA,
      destinationKeyId: keyB,
      prefix: 'none/',
      dryRun: true,
    });
    for (const who of [KEY_USER, HALF]) {
      const res = await t.client(who).raw('GET', `/v1/jobs/${started.id}`);
      expect(res.status, who).toBe(403);
      expect(res.body).toMatchObject({ error: 'AccessDenied' });
    }
    expect((await t.client(KEY_MANAGER).getJob(started.id)).id).toBe(started.id);
  });
});

describe('throttling', () => {
  it('completes with no failures while the local KMS throttles a third of the ReEncrypt calls', async () => {
    for (let i = 0; i < 12; i++) await putViaApi(`throttle/${i}`, randomBytes(64), keyA, {});
    let retries = 0;
    // One SDK attempt per call: the job's own backoff does the retrying.
    const { KMSClient } = await import('@aws-sdk/client-kms');
    const service = t.principal(SERVICE);
    const kms = new KMSClient({
      endpoint: t.stack.kms.endpoint,
      region: t.config.region,
      credentials: { accessKeyId: service.accessKeyId, secretAccessKey: service.secretAccessKey },
      maxAttempts: 1,
    });
    const worker = workerFor(
      t,
      {
        retry: { baseMs: 1, maxMs: 4, attempts: 30, onRetry: () => retries++ },
        pageSize: 5,
        kmsPerSecond: 1000,
      },
      kms,
    );
    const job = await worker.create(
      {
        mode: 'source-key',
        sourceKeyArn: keyA,
        destinationKeyArn: keyB,
        prefix: 'throttle/',
        dryRun: false,
        concurrency: 4,
      },
      arn(OPERATOR),
    );
    // Every third call, not a third at random: 12 calls all passing happened about once in 130 runs.
    let call = 0;
    t.stack.kms.throttle(1 / 3, { operations: ['ReEncrypt'], random: () => (call++ % 3 === 0 ? 0 : 0.99) });
    try {
      const done = await worker.run(job.id);
      expect(done?.phase).toBe('succeeded');
      expect(done?.counts).toMatchObject({ rewrapped: 12, failed: {} });
    } finally {
      t.stack.kms.throttle(0);
      kms.destroy();
    }
    expect(retries).toBeGreaterThan(0);
  });
});
