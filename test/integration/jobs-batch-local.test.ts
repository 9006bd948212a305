import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { GRANTEE, KEY_MANAGER, KEY_USER, SERVICE } from '@eaas/aws-local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localBatchReportsBucket } from '../../local/emulator-options.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';
import { S3Log, unwrapKeyOf, writeForeign } from './jobs-fixtures.js';

/**
 * Re-encryption jobs on the batch engine, end to end on the local stack: the API creates an S3
 * Batch Operations job on the local S3 Control, which runs it as BatchOperationsRole and invokes
 * the service's rewrapbatch function (its own role) once per object; the view reads S3's progress
 * and completion report back. The scenarios of jobs-rewrap.test.ts, on `engine: "batch"`.
 */

const exec = promisify(execFile);
const AWS_CLI = '/usr/bin/aws';

let t: TestStack;
let bucket: string;
const log = new S3Log();
const OPERATOR = GRANTEE;
let keyA: string;
let keyB: string;
const originals = new Map<string, Buffer>();
const campaign = () => [...originals.keys()].filter((k) => k.startsWith('docs/') && k !== 'docs/other-key');
const arn = (name: string) => `arn:aws:iam::${t.config.accountId}:user/${name}`;

async function createKey(administrators: string[], users: string[]): Promise<string> {
  const res = await t
    .client(KEY_MANAGER)
    .raw('POST', '/v1/keys', { description: 'batch jobs', administrators, users });
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

/** A context too large for S3's 2 KB of metadata: the API writes an instruction file. */
const bigContext = { tenant: 'acme', a: 'x'.repeat(1000), b: 'y'.repeat(1000) };

/** Starts a job through the API (the client has no `engine` yet: the raw request). */
async function start(body: Record<string, unknown>): Promise<{ id: string } & Record<string, unknown>> {
  const res = await t.client(OPERATOR).raw('POST', '/v1/jobs/re-encrypt', body);
  if (res.status !== 200 && res.status !== 202) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: string };
}

/** The job's view once S3 finished its batch job (every invocation answered, the report written). */
async function finished(id: string) {
  await t.stack.s3Control.idle();
  return t.client(OPERATOR).getJob(id);
}

beforeAll(async () => {
  t = await startTestStack({ env: { EAAS_REWRAP_TICK_SECONDS: '0' }, onS3Request: log.listener });
  bucket = t.config.vaultBucket;
  keyA = await createKey([arn(KEY_MANAGER), arn(OPERATOR)], [arn(KEY_USER)]);
  keyB = await createKey([arn(KEY_MANAGER), arn(OPERATOR)], [arn(KEY_USER)]);
  for (const [i, size] of [0, 1000, 70_000].entries()) {
    await putViaApi(`docs/api-v3-${i}`, randomBytes(size), keyA, { tenant: 'acme' });
    await putViaApi(`docs/api-v3-instr-${i}`, randomBytes(size), keyA, bigContext);
  }
  const kms = t.kms(KEY_USER);
  const s3 = t.s3(SERVICE);
  for (const version of ['v2', 'v3'] as const)
    for (const instruction of [false, true]) {
      const key = `docs/foreign-${version}-${instruction ? 'instr' : 'meta'}`;
      const plaintext = randomBytes(5000);
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
  await putViaApi('docs/other-key', Buffer.from('under the default key'), 'alias/eaas-default', {});
  await putViaApi('elsewhere/doc', Buffer.from('outside the prefix'), keyA, {});
});
afterAll(() => t?.stop());

describe('a campaign from key A to key B on the batch engine', () => {
  let batchJobId = '';

  it('re-wraps every object onto B through S3 Batch Operations without reading a body; A can be disabled', async () => {
    const mark = log.mark();
    const started = await start({
      sourceKeyId: keyA,
      destinationKeyId: keyB,
      prefix: 'docs/',
      engine: 'batch',
    });
    expect(started).toMatchObject({ engine: 'batch', mode: 'source-key' });
    const view = await finished(started.id);
    const during = log.since(mark);
    expect(view.state).toBe('succeeded');
    // The record counts S3's tasks (one per key listed under the prefix), every one succeeded.
    const record = (await t.stack.rewrap.load(started.id))?.job;
    expect(record?.engine).toBe('batch');
    expect(record?.batch?.status).toBe('Complete');
    expect(record?.batch?.tasks?.failed).toBe(0);
    expect(record?.batch?.tasks?.succeeded).toBe(record?.batch?.tasks?.total);
    batchJobId = record?.batch?.jobId ?? '';
    expect(batchJobId).not.toBe('');

    // No document body read: the function HEADs and copies; S3 lists for the manifest.
    const documentReads = during.filter(
      (e) =>
        e.method === 'GET' && e.key !== '' && e.key.startsWith('docs/') && !e.key.endsWith('.instruction'),
    );
    expect(documentReads).toEqual([]);
    for (const key of campaign())
      expect(
        during.filter((e) => e.key === key && e.copy && e.status === 200),
        key,
      ).toHaveLength(1);

    const kms = t.kms(KEY_USER);
    const s3 = t.s3(SERVICE);
    for (const key of campaign()) expect(await unwrapKeyOf(kms, s3, bucket, key), key).toBe(keyB);
    expect(await unwrapKeyOf(kms, s3, bucket, 'docs/other-key')).not.toBe(keyB);
    expect(await unwrapKeyOf(kms, s3, bucket, 'elsewhere/doc')).toBe(keyA);

    // S3's completion report, in the local reports bucket, under the adapter's prefix.
    const reports = await s3.send(
      new ListObjectsV2Command({
        Bucket: localBatchReportsBucket(t.config),
        Prefix: `reports/job-${batchJobId}/`,
      }),
    );
    const names = (reports.Contents ?? []).map((o) => o.Key);
    expect(names).toContain(`reports/job-${batchJobId}/manifest.json`);

    const disabled = await t.client(KEY_MANAGER).raw('POST', `/v1/keys/${encodeURIComponent(keyA)}/disable`);
    expect(disabled.status).toBe(200);
    try {
      for (const key of campaign()) {
        const got = await t.client(KEY_USER).rawBytes('GET', `/v1/objects/${encodeURIComponent(key)}`);
        expect(got.status, key).toBe(200);
        expect(Buffer.from(got.bytes).equals(originals.get(key) as Buffer), key).toBe(true);
      }
    } finally {
      await t.client(KEY_MANAGER).raw('POST', `/v1/keys/${encodeURIComponent(keyA)}/enable`);
    }
  });

  it('GET /v1/jobs/{id} shows the same fields as a scheduled job', async () => {
    const batch = await start({
      sourceKeyId: keyA,
      destinationKeyId: keyB,
      prefix: 'docs/',
      engine: 'batch',
    });
    const batchView = await finished(batch.id);
    const scheduled = await start({
      sourceKeyId: keyA,
      destinationKeyId: keyB,
      prefix: 'docs/',
      engine: 'scheduled',
    });
    await t.stack.rewrapTick();
    const scheduledView = await t.client(OPERATOR).getJob(scheduled.id);
    expect(batchView.state).toBe('succeeded');
    expect(scheduledView.state).toBe('succeeded');
    // The batch view's report is S3's completion report, read from the reports bucket and parsed.
    expect(batchView.report?.summary).toMatch(/^The job finished\. /);
    expect(scheduledView.report?.summary).toMatch(/^The job finished\. /);
    expect(Object.keys(batchView).sort()).toEqual(Object.keys(scheduledView).sort());
    expect(Object.keys(batchView.report ?? {}).sort()).toEqual(
      Object.keys(scheduledView.report ?? {}).sort(),
    );
  });

  it('running the same campaign again re-wraps nothing', async () => {
    const mark = log.mark();
    const started = await start({
      sourceKeyId: keyA,
      destinationKeyId: keyB,
      prefix: 'docs/',
      engine: 'batch',
    });
    expect((await finished(started.id)).state).toBe('succeeded');
    expect(log.since(mark).filter((e) => e.copy)).toEqual([]);
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
          batchJobId,
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
      expect(job).toMatchObject({ JobId: batchJobId, Status: 'Complete' });
      // One task per key S3 listed under the prefix (instruction files and docs/other-key included:
      // the function answers them Succeeded with nothing to do), each one succeeded.
      const progress = job.ProgressSummary as Record<string, number>;
      expect(progress.TotalNumberOfTasks).toBeGreaterThanOrEqual(10);
      expect(progress).toMatchObject({
        NumberOfTasksSucceeded: progress.TotalNumberOfTasks,
        NumberOfTasksFailed: 0,
      });
    },
  );
});
