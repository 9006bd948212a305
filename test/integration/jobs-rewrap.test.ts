import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { BatchFunction, BatchInvocationEvent } from '@eaas/aws-local';
import { GRANTEE, KEY_MANAGER, KEY_USER, OUTSIDER, SERVICE } from '@eaas/aws-local';
import type { EaasClient } from '@eaas/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localBatchReportsBucket } from '../../local/emulator-options.js';
import type { JobEngine } from '../../src/core/rewrap-job.js';
import { visibleCounts } from '../../src/core/rewrap-view.js';
import type { RewrapOptions } from '../../src/services/rewrap.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';
import {
  createJobKey,
  putDocument,
  S3Log,
  unwrapKeyOf,
  workerFor,
  writeForeignSet,
} from './jobs-fixtures.js';

/**
 * Re-encryption jobs end to end, through the real SDK clients against the local KMS, S3 and S3
 * Batch Operations, on both engines: `scheduled` (the service's own worker, run by the stack's
 * tick) and `batch` (the API creates an S3 Batch Operations job on the local S3 Control, which
 * runs it as BatchOperationsRole and invokes the rewrapbatch function once per object). The same
 * scenarios on each: a campaign from key A to key B over mixed objects (S3EC V2 and V3, header in
 * metadata or in an instruction file, several sizes, written by the API and by an independent
 * writer), started and watched through the API by an operator who administers both A and B; then
 * the batch engine's own faults (a task invoked twice, a function that crashes mid-task).
 */

const exec = promisify(execFile);
const AWS_CLI = '/usr/bin/aws';

let t: TestStack;
let bucket: string;
const log = new S3Log();
/** myGrantee plays the operator: administrator of A and B (the README's recipe). */
const OPERATOR = GRANTEE;
/** myOutsider administers B and uses A: not enough to move A's documents. */
const HALF = OUTSIDER;

/** The rewrapbatch function's test hooks (StackOptions), set by a test and cleared after it. */
let batchWrapper: ((event: BatchInvocationEvent, invoke: BatchFunction) => Promise<unknown>) | undefined;
let batchStep: ((name: string, key?: string) => void | Promise<void>) | undefined;

const arn = (name: string) => `arn:aws:iam::${t.config.accountId}:user/${name}`;

const createKey = (administrators: string[], users: string[]) => createJobKey(t, { administrators, users });
const putViaApi = (key: string, body: Buffer, keyId: string, context: Record<string, string> = {}) =>
  putDocument(t, key, body, keyId, context);

async function readViaApi(c: EaasClient, key: string) {
  return c.rawBytes('GET', `/v1/objects/${encodeURIComponent(key)}`);
}

/** The counts of a job's record about objects under its keys (operators' only: the view has none). */
async function countsOf(id: string) {
  return visibleCounts(await recordOf(id));
}

async function recordOf(id: string) {
  const found = await t.stack.rewrap.load(id);
  if (!found) throw new Error(`no job ${id}`);
  return found.job;
}

/** A context too large for S3's 2 KB of metadata: the API writes an instruction file. */
const bigContext = { tenant: 'acme', a: 'x'.repeat(1000), b: 'y'.repeat(1000) };

/** Starts a job through the API on an engine (the typed client has no `engine`: the raw request). */
async function start(engine: JobEngine, body: Record<string, unknown>) {
  const res = await t.client(OPERATOR).raw('POST', '/v1/jobs/re-encrypt', { ...body, engine });
  if (res.status !== 200 && res.status !== 202) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: string; state: string; mode: string; dryRun: boolean; engine: string };
}

/**
 * Runs a started job to its end on its engine: the stack's tick, or S3 Batch Operations' run and
 * then the tick, which counts its completion report (no API request reads it).
 */
async function finish(engine: JobEngine, id: string) {
  if (engine === 'batch') await t.stack.s3Control.idle();
  await t.stack.rewrapTick();
  return t.client(OPERATOR).getJob(id);
}

/** The body of every document read through the API, as its key user. */
async function expectReadable(expected: Map<string, Buffer>) {
  for (const [key, body] of expected) {
    const got = await readViaApi(t.client(KEY_USER), key);
    expect(got.status, key).toBe(200);
    expect(Buffer.from(got.bytes).equals(body), key).toBe(true);
  }
}

/** CopyObjects S3 carried out per key since a mark of the log. */
const copiesOf = (mark: number, key: string) =>
  log.since(mark).filter((e) => e.bucket === bucket && e.key === key && e.copy && e.status === 200);

beforeAll(async () => {
  t = await startTestStack({
    env: { EAAS_REWRAP_TICK_SECONDS: '0' },
    onS3Request: log.listener,
    rewrapBatch: (event, invoke) => (batchWrapper ? batchWrapper(event, invoke) : invoke(event)),
    rewrapBatchStep: (name, key) => batchStep?.(name, key),
  });
  bucket = t.config.vaultBucket;
});
afterAll(() => t?.stop());

describe('POST /v1/jobs/re-encrypt: who may start a job', () => {
  let keyA: string;
  let keyB: string;
  beforeAll(async () => {
    keyA = await createKey([arn(KEY_MANAGER), arn(OPERATOR)], [arn(KEY_USER), arn(HALF)]);
    keyB = await createKey([arn(KEY_MANAGER), arn(OPERATOR), arn(HALF)], [arn(KEY_USER)]);
  });

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
      { sourceKeyId: keyA, destinationKeyId: keyB, engine: 'elsewhere' },
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

/** The id of the batch engine's finished campaign in S3 Batch Operations, for the CLI's view of it. */
let batchCampaignJobId = '';
/** Each engine's view of its finished campaign: the same fields either way. */
const campaignViews = new Map<JobEngine, Record<string, unknown>>();

describe.each(['scheduled', 'batch'] as const)('a campaign from key A to key B (%s engine)', (engine) => {
  let keyA: string;
  let keyB: string;
  /** Every document of this engine's fixture, with its bytes. */
  const originals = new Map<string, Buffer>();
  const prefix = `${engine}/docs/`;
  const otherKey = `${prefix}other-key`;
  const outside = `${engine}/elsewhere`;
  /** The objects of the campaign: under the prefix and under key A. */
  const campaign = () => [...originals.keys()].filter((k) => k.startsWith(prefix) && k !== otherKey);

  beforeAll(async () => {
    keyA = await createKey([arn(KEY_MANAGER), arn(OPERATOR)], [arn(KEY_USER), arn(HALF)]);
    keyB = await createKey([arn(KEY_MANAGER), arn(OPERATOR), arn(HALF)], [arn(KEY_USER)]);
    const put = async (key: string, body: Buffer, keyId: string, context: Record<string, string>) => {
      await putViaApi(key, body, keyId, context);
      originals.set(key, body);
    };
    // Names with a space, '+', '%' and unicode among them: S3 Batch Operations hands keys to the
    // function URL-encoded in the form style (a space as '+'), and each must be found as stored.
    const names = ['api-v3-0', 'api v3+1 100%', 'api-v3-ünï cödé-2', 'api-v3-3'];
    for (const [i, size] of [0, 1, 1000, 70_000].entries()) {
      await put(`${prefix}${names[i]}`, randomBytes(size), keyA, { tenant: 'acme' });
      await put(`${prefix}${names[i]}-instr`, randomBytes(size), keyA, bigContext);
    }
    const kms = t.kms(KEY_USER);
    const s3 = t.s3(SERVICE);
    const foreign = await writeForeignSet(kms, s3, bucket, { prefix, keyId: keyA, sizes: [5, 40_000] });
    for (const [key, plaintext] of foreign) originals.set(key, plaintext);
    // Not for this job: under another key, and outside the prefix.
    await put(otherKey, Buffer.from('under the default key'), 'alias/eaas-default', {});
    await put(outside, Buffer.from('outside the prefix'), keyA, {});
  });

  it('dry-runs first: counts what it would do (in its record), and changes nothing', async () => {
    const mark = log.mark();
    const started = await start(engine, { sourceKeyId: keyA, destinationKeyId: keyB, prefix, dryRun: true });
    expect(started).toMatchObject({ state: 'pending', dryRun: true, mode: 'source-key', engine });
    const view = await finish(engine, started.id);
    expect(view.state).toBe('succeeded');
    // The view counts nothing; the record counts the objects under the job's keys: the API's eight under A.
    expect(view).not.toHaveProperty('counts');
    expect(view).not.toHaveProperty('total');
    expect(await countsOf(started.id)).toEqual({ rewrapped: 8, alreadyCurrent: 0, skipped: {}, failed: {} });
    // The record keeps the rest for operators: every object under the prefix (instruction files
    // are none), the foreign ones (a dry run cannot tell their key without KMS) and the other key's.
    const record = await recordOf(started.id);
    expect(record.engine).toBe(engine);
    expect(record.total).toBe(17);
    expect(record.counts).toMatchObject({ scanned: 17, skipped: { 'other-key': 1, 'unknown-key': 8 } });
    // No document written: besides records, the creator's quota record and S3's reports.
    const documents = log
      .since(mark)
      .filter((e) => e.bucket === bucket && e.method === 'PUT' && e.key.startsWith(`${engine}/`));
    expect(documents).toEqual([]);
    expect(log.since(mark).filter((e) => e.copy)).toEqual([]);
  });

  it('re-wraps every object onto B without reading a body; each decrypts to its bytes; A can be disabled', async () => {
    const mark = log.mark();
    const started = await start(engine, {
      sourceKeyId: keyA,
      destinationKeyId: keyB,
      prefix,
      concurrency: 3,
    });
    const view = await finish(engine, started.id);
    const during = log.since(mark);
    expect(view.state).toBe('succeeded');
    expect(await countsOf(started.id)).toEqual({ rewrapped: 16, alreadyCurrent: 0, skipped: {}, failed: {} });
    expect(view).not.toHaveProperty('counts');
    expect(view.report?.summary).toMatch(/^The job finished\. /);
    expect(view.report?.summary).not.toMatch(/\d/);
    const record = await recordOf(started.id);
    expect(record.counts).toMatchObject({ scanned: 17, skipped: { 'other-key': 1 } });
    expect(record.total).toBe(17);
    expect(record.finishedAt).toBeDefined();
    campaignViews.set(engine, view as unknown as Record<string, unknown>);
    if (engine === 'batch') {
      expect(record.batch).toMatchObject({ status: 'Complete', tasks: { failed: 0 } });
      batchCampaignJobId = record.batch?.jobId ?? '';
    }

    // The job read no document body: no GET of a document key, and no body bytes served for one.
    const documentReads = during.filter(
      (e) =>
        e.bucket === bucket &&
        e.method === 'GET' &&
        e.key.startsWith(`${engine}/`) &&
        !e.key.endsWith('.instruction'),
    );
    expect(documentReads).toEqual([]);
    // Each object was written once: one metadata copy each.
    for (const key of campaign()) expect(copiesOf(mark, key), key).toHaveLength(1);

    const kms = t.kms(KEY_USER);
    const s3 = t.s3(SERVICE);
    for (const key of campaign()) expect(await unwrapKeyOf(kms, s3, bucket, key), key).toBe(keyB);
    expect(await unwrapKeyOf(kms, s3, bucket, otherKey)).not.toBe(keyB);
    expect(await unwrapKeyOf(kms, s3, bucket, outside)).toBe(keyA);

    const disabled = await t.client(KEY_MANAGER).raw('POST', `/v1/keys/${encodeURIComponent(keyA)}/disable`);
    expect(disabled.status, JSON.stringify(disabled.body)).toBe(200);
    try {
      await expectReadable(new Map([...originals].filter(([k]) => k.startsWith(prefix))));
    } finally {
      await t.client(KEY_MANAGER).raw('POST', `/v1/keys/${encodeURIComponent(keyA)}/enable`);
    }
  });

  it('running the same campaign again re-wraps nothing twice', async () => {
    const mark = log.mark();
    const started = await start(engine, { sourceKeyId: keyA, destinationKeyId: keyB, prefix });
    expect((await finish(engine, started.id)).state).toBe('succeeded');
    expect(await countsOf(started.id)).toEqual({ rewrapped: 0, alreadyCurrent: 16, skipped: {}, failed: {} });
    expect(log.since(mark).filter((e) => e.copy)).toEqual([]);
  });

  it('re-wraps onto current material after a rotation (olderThanRotation), once', async () => {
    const c = t.client(OPERATOR);
    expect((await c.raw('POST', `/v1/keys/${encodeURIComponent(keyB)}/rotate`)).status).toBe(200);
    const first = await start(engine, { olderThanRotation: true, destinationKeyId: keyB, prefix });
    expect(first.mode).toBe('older-than-rotation');
    expect((await finish(engine, first.id)).state).toBe('succeeded');
    expect(await countsOf(first.id)).toMatchObject({ rewrapped: 16, failed: {} });
    const again = await start(engine, { olderThanRotation: true, destinationKeyId: keyB, prefix });
    expect((await finish(engine, again.id)).state).toBe('succeeded');
    expect(await countsOf(again.id)).toMatchObject({ rewrapped: 0, alreadyCurrent: 16 });
    await expectReadable(new Map([...originals].filter(([k]) => k.startsWith(prefix))));
  });

  it('shows a job only to an administrator of both its keys', async () => {
    const started = await start(engine, {
      sourceKeyId: keyA,
      destinationKeyId: keyB,
      prefix: `${engine}/none/`,
      dryRun: true,
    });
    await finish(engine, started.id);
    for (const who of [KEY_USER, HALF]) {
      const res = await t.client(who).raw('GET', `/v1/jobs/${started.id}`);
      expect(res.status, who).toBe(403);
      expect(res.body).toMatchObject({ error: 'AccessDenied' });
    }
    const view = await t.client(KEY_MANAGER).getJob(started.id);
    expect(view).toMatchObject({ id: started.id, state: 'succeeded' });
  });

  it('keeps a document overwritten during the campaign as its writer left it, re-wrapped from its new version', async () => {
    const race = `${engine}/race/`;
    const expected = new Map<string, Buffer>();
    for (let i = 0; i < 3; i++) {
      const body = randomBytes(50);
      await putViaApi(`${race}${i}`, body, keyA, { tenant: 'acme' });
      expected.set(`${race}${i}`, body);
    }
    const fresh = Buffer.from('the new upload, landed while the job re-wrapped the old one');
    let raced = 0;
    // After KMS re-wrapped the data key of race/1, before the job writes it: a new upload lands.
    const step = async (name: string, key?: string) => {
      if (name === 're-encrypted' && key === `${race}1` && raced++ === 0)
        await putViaApi(`${race}1`, fresh, keyA, { tenant: 'acme' });
    };
    expected.set(`${race}1`, fresh);
    const mark = log.mark();
    let counts: ReturnType<typeof visibleCounts>;
    const spec = { sourceKeyId: keyA, destinationKeyId: keyB, prefix: race };
    if (engine === 'scheduled') {
      const worker = workerFor(t, { pageSize: 10, step });
      const job = await worker.create(
        {
          mode: 'source-key',
          sourceKeyArn: keyA,
          destinationKeyArn: keyB,
          prefix: race,
          dryRun: false,
          concurrency: 1,
        },
        arn(OPERATOR),
      );
      const done = await worker.run(job.id);
      expect(done?.phase).toBe('succeeded');
      counts = visibleCounts(done ?? (await recordOf(job.id)));
    } else {
      batchStep = step;
      try {
        const started = await start(engine, spec);
        expect((await finish(engine, started.id)).state).toBe('succeeded');
        counts = await countsOf(started.id);
      } finally {
        batchStep = undefined;
      }
    }
    expect(raced).toBeGreaterThan(0);
    expect(counts).toEqual({ rewrapped: 3, alreadyCurrent: 0, skipped: {}, failed: {} });
    // The copy conditioned on the old version's ETag was refused by S3; the new one was copied once.
    expect(log.since(mark).some((e) => e.key === `${race}1` && e.copy && e.status === 412)).toBe(true);
    for (const key of expected.keys()) expect(copiesOf(mark, key), key).toHaveLength(1);
    const kms = t.kms(KEY_USER);
    const s3 = t.s3(SERVICE);
    for (const key of expected.keys()) expect(await unwrapKeyOf(kms, s3, bucket, key), key).toBe(keyB);
    await expectReadable(expected);
  });

  it('completes with no failures while the local KMS throttles a third of the ReEncrypt calls', async () => {
    const throttled = `${engine}/throttle/`;
    for (let i = 0; i < 12; i++) await putViaApi(`${throttled}${i}`, randomBytes(64), keyA);
    // Every third call, not a third at random: 12 calls all passing happened about once in 130 runs.
    let calls = 0;
    const throttle = () =>
      t.stack.kms.throttle(1 / 3, {
        operations: ['ReEncrypt'],
        random: () => (calls++ % 3 === 0 ? 0 : 0.99),
      });
    let counts: ReturnType<typeof visibleCounts>;
    if (engine === 'scheduled') {
      // One SDK attempt per call: the job's own backoff does the retrying.
      let retries = 0;
      const { KMSClient } = await import('@aws-sdk/client-kms');
      const service = t.principal(SERVICE);
      const kms = new KMSClient({
        endpoint: t.stack.kms.endpoint,
        region: t.config.region,
        credentials: { accessKeyId: service.accessKeyId, secretAccessKey: service.secretAccessKey },
        maxAttempts: 1,
      });
      const options: RewrapOptions = {
        retry: { baseMs: 1, maxMs: 4, attempts: 30, onRetry: () => retries++ },
        pageSize: 5,
        kmsPerSecond: 1000,
      };
      const worker = workerFor(t, options, kms);
      const job = await worker.create(
        {
          mode: 'source-key',
          sourceKeyArn: keyA,
          destinationKeyArn: keyB,
          prefix: throttled,
          dryRun: false,
          concurrency: 4,
        },
        arn(OPERATOR),
      );
      throttle();
      try {
        const done = await worker.run(job.id);
        expect(done?.phase).toBe('succeeded');
        counts = visibleCounts(done ?? (await recordOf(job.id)));
      } finally {
        t.stack.kms.throttle(0);
        kms.destroy();
      }
      expect(retries).toBeGreaterThan(0);
    } else {
      // The function's SDK client and its own retries, then S3's redrive of a TemporaryFailure.
      const started = await start(engine, { sourceKeyId: keyA, destinationKeyId: keyB, prefix: throttled });
      throttle();
      try {
        expect((await finish(engine, started.id)).state).toBe('succeeded');
      } finally {
        t.stack.kms.throttle(0);
      }
      counts = await countsOf(started.id);
    }
    expect(counts).toEqual({ rewrapped: 12, alreadyCurrent: 0, skipped: {}, failed: {} });
    // A third of the calls throttled, and each throttled one made again.
    expect(calls).toBeGreaterThanOrEqual(18);
  });
});

describe('the batch engine only', () => {
  it('GET /v1/jobs/{id} shows the same fields whichever engine ran the campaign', () => {
    const [scheduled, batch] = [campaignViews.get('scheduled'), campaignViews.get('batch')];
    expect(scheduled && batch).toBeTruthy();
    expect(Object.keys(batch ?? {}).sort()).toEqual(Object.keys(scheduled ?? {}).sort());
    expect(Object.keys((batch?.report ?? {}) as object).sort()).toEqual(
      Object.keys((scheduled?.report ?? {}) as object).sort(),
    );
  });

  it("keeps S3's completion report in the reports bucket, under the adapter's prefix", async () => {
    const reports = await t.s3(SERVICE).send(
      new ListObjectsV2Command({
        Bucket: localBatchReportsBucket(t.config),
        Prefix: `reports/job-${batchCampaignJobId}/`,
      }),
    );
    expect((reports.Contents ?? []).map((o) => o.Key)).toContain(
      `reports/job-${batchCampaignJobId}/manifest.json`,
    );
  });

  it.runIf(existsSync(AWS_CLI))(
    'aws s3control describe-job shows the finished job with its progress summary',
    async () => {
      const p = t.principal(KEY_MANAGER);
      const endpoint = t.stack.s3Control.endpoint;
      const { stdout } = await exec(
        AWS_CLI,
        [
          '--endpoint-url',
          endpoint,
          's3control',
          'describe-job',
          '--account-id',
          t.config.accountId,
          '--job-id',
          batchCampaignJobId,
        ],
        {
          env: {
            PATH: process.env.PATH,
            HOME: process.env.HOME,
            // The emulator as the CLI's proxy: the account host prefix reaches it unchanged (docs/local-stack.md).
            HTTP_PROXY: endpoint,
            AWS_ACCESS_KEY_ID: p.accessKeyId,
            AWS_SECRET_ACCESS_KEY: p.secretAccessKey,
            AWS_DEFAULT_REGION: t.config.region,
            AWS_PAGER: '',
          },
          timeout: 60_000,
        },
      );
      const job = (JSON.parse(stdout) as { Job: Record<string, unknown> }).Job;
      expect(job).toMatchObject({ JobId: batchCampaignJobId, Status: 'Complete' });
      // One task per key S3 listed under the prefix: the 17 objects and the 8 instruction files
      // (the function answers those Succeeded with nothing to do), each one succeeded.
      expect(job.ProgressSummary).toMatchObject({
        TotalNumberOfTasks: 25,
        NumberOfTasksSucceeded: 25,
        NumberOfTasksFailed: 0,
      });
    },
  );

  describe('faults of S3 Batch Operations and of the function: every object readable, re-wrapped once', () => {
    let keyA: string;
    let keyB: string;

    beforeAll(async () => {
      keyA = await createKey([arn(KEY_MANAGER), arn(OPERATOR)], [arn(KEY_USER)]);
      keyB = await createKey([arn(KEY_MANAGER), arn(OPERATOR)], [arn(KEY_USER)]);
    });

    /** Three objects with their header in metadata and two with an instruction file, under A. */
    async function seed(prefix: string): Promise<Map<string, Buffer>> {
      const expected = new Map<string, Buffer>();
      for (let i = 0; i < 5; i++) {
        const key = `${prefix}${i < 3 ? 'meta' : 'instr'}-${i}`;
        const body = randomBytes(100 + i);
        await putViaApi(key, body, keyA, i < 3 ? { tenant: 'acme' } : bigContext);
        expected.set(key, body);
      }
      return expected;
    }

    /** Runs a batch campaign over the prefix; checks each object on B, copied once, readable. */
    async function campaignOnce(prefix: string, expected: Map<string, Buffer>) {
      const mark = log.mark();
      const started = await start('batch', { sourceKeyId: keyA, destinationKeyId: keyB, prefix });
      expect((await finish('batch', started.id)).state).toBe('succeeded');
      const kms = t.kms(KEY_USER);
      const s3 = t.s3(SERVICE);
      for (const key of expected.keys()) {
        expect(copiesOf(mark, key), key).toHaveLength(1);
        expect(await unwrapKeyOf(kms, s3, bucket, key), key).toBe(keyB);
      }
      // No instruction file re-wrapped twice either: at most one successful write of each.
      for (const key of expected.keys()) {
        const writes = log
          .since(mark)
          .filter((e) => e.key === `${key}.instruction` && e.method === 'PUT' && e.status === 200);
        expect(writes.length, key).toBeLessThanOrEqual(1);
      }
      await expectReadable(expected);
      const counts = await countsOf(started.id);
      expect(counts.failed).toEqual({});
      expect(counts.rewrapped + counts.alreadyCurrent).toBe(expected.size);
      return counts;
    }

    it('a task invoked twice (S3 invokes a task at least once): the second finds it done', async () => {
      const expected = await seed('twice/');
      const seen: string[] = [];
      // S3 keeps the first answer; the second invocation comes after it, as a redrive would.
      batchWrapper = async (event, invoke) => {
        const first = await invoke(event);
        const second = (await invoke(event)) as { results: { resultString: string }[] };
        seen.push(...second.results.map((r) => r.resultString));
        return first;
      };
      try {
        const counts = await campaignOnce('twice/', expected);
        expect(counts).toMatchObject({ rewrapped: expected.size, alreadyCurrent: 0 });
      } finally {
        batchWrapper = undefined;
      }
      // Instruction files are tasks too, with nothing to do.
      expect(seen.filter((r) => r !== 'skipped: not-a-document')).toEqual(
        Array(expected.size).fill('already re-wrapped'),
      );
    });

    it('a function that crashes after the copy, before it answers: S3 redrives the task', async () => {
      const expected = await seed('crash-answer/');
      const crashed = new Set<string>();
      batchWrapper = async (event, invoke) => {
        const answer = await invoke(event);
        const key = event.tasks[0]?.s3Key ?? '';
        if (crashed.has(key)) return answer;
        crashed.add(key);
        throw new Error('the function crashed before answering');
      };
      try {
        const counts = await campaignOnce('crash-answer/', expected);
        // Each task's final answer came from the redrive, which found the object done.
        expect(counts).toMatchObject({ rewrapped: 0, alreadyCurrent: expected.size });
      } finally {
        batchWrapper = undefined;
      }
      expect(crashed.size).toBeGreaterThanOrEqual(expected.size);
    });

    it.each([
      ['after ReEncrypt, before any write', 're-encrypted'],
      ['between the instruction file and the copy', 'instruction-written'],
    ])('a function that crashes %s: S3 redrives the task', async (_, at) => {
      const prefix = `crash-${at}/`;
      const expected = await seed(prefix);
      const crashed = new Set<string>();
      batchStep = (name, key) => {
        if (name !== at || !key || crashed.has(key)) return;
        crashed.add(key);
        throw new Error(`crashed at ${name}`);
      };
      try {
        const counts = await campaignOnce(prefix, expected);
        expect(counts).toMatchObject({ rewrapped: expected.size, alreadyCurrent: 0 });
      } finally {
        batchStep = undefined;
      }
      // Every object crashed once where the step exists (instruction files: the two of them).
      expect(crashed.size).toBe(at === 're-encrypted' ? expected.size : 2);
    });
  });
});
