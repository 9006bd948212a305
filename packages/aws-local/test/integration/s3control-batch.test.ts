import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import {
  CreateJobCommand,
  type CreateJobCommandInput,
  DescribeJobCommand,
  ListJobsCommand,
  UpdateJobPriorityCommand,
  UpdateJobStatusCommand,
} from '@aws-sdk/client-s3-control';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ACCOUNT_ID } from '../../src/defaults.js';
import { OUTSIDER } from '../../src/identity.js';
import type { BatchInvocationEvent } from '../../src/s3control/index.js';
import {
  BATCH_ROLE,
  fnArn,
  NON_PASSING_CALLER,
  PASSING_CALLER,
  startTestBatch,
  type TestBatch,
} from '../helpers/local-s3control.js';

const A = DEFAULT_ACCOUNT_ID;
let t: TestBatch;
/** Every event each function received, in order. */
const calls: Record<string, BatchInvocationEvent[]> = {};
let gate: { open: () => void; wait: Promise<void> } | undefined;

function record(name: string, event: BatchInvocationEvent) {
  calls[name] = [...(calls[name] ?? []), event];
}

function answer(event: BatchInvocationEvent, resultCode: string, resultString: string) {
  return {
    invocationSchemaVersion: '2.0',
    treatMissingKeysAs: 'PermanentFailure',
    invocationId: event.invocationId,
    results: [{ taskId: event.tasks[0]?.taskId, resultCode, resultString }],
  };
}

/**
 * A task's key as a function decodes it: form-style URL encoding, a space as `+` (Python's
 * `unquote_plus`, as S3 encodes keys in events: https://docs.aws.amazon.com/lambda/latest/dg/with-s3.html).
 */
const decodePlus = (encoded: string) => decodeURIComponent(encoded.replace(/\+/g, '%20'));
const keyOf = (e: BatchInvocationEvent) => decodePlus(e.tasks[0]?.s3Key ?? '');

const functions = {
  [fnArn('batch-ok')]: async (e: BatchInvocationEvent) => {
    record('ok', e);
    return answer(e, 'Succeeded', `done ${keyOf(e)}`);
  },
  [fnArn('batch-mixed')]: async (e: BatchInvocationEvent) => {
    record('mixed', e);
    const key = keyOf(e);
    if (key.includes('perm')) return answer(e, 'PermanentFailure', `cannot do ${key}`);
    // A TemporaryFailure the first time a key is seen, then success.
    if (key.includes('temp') && (calls.mixed ?? []).filter((c) => keyOf(c) === key).length === 1)
      return answer(e, 'TemporaryFailure', 'throttled');
    return answer(e, 'Succeeded', 'ok');
  },
  [fnArn('batch-throws')]: async (e: BatchInvocationEvent) => {
    record('throws', e);
    throw new Error('boom');
  },
  [fnArn('batch-gated')]: async (e: BatchInvocationEvent) => {
    record('gated', e);
    await gate?.wait;
    return answer(e, 'Succeeded', 'ok');
  },
};

function newGate() {
  let open: () => void = () => undefined;
  const wait = new Promise<void>((r) => {
    open = r;
  });
  gate = { open, wait };
  return gate;
}

let tokenCount = 0;
function job(fn: string, prefix: string, more: Partial<CreateJobCommandInput> = {}): CreateJobCommandInput {
  tokenCount += 1;
  return {
    AccountId: A,
    ClientRequestToken: `token-${tokenCount}-${Date.now()}`,
    Priority: 10,
    RoleArn: BATCH_ROLE.arn,
    ConfirmationRequired: false,
    Operation: {
      LambdaInvoke: {
        FunctionArn: fnArn(fn),
        InvocationSchemaVersion: '2.0',
        UserArguments: { campaign: prefix },
      },
    },
    ManifestGenerator: {
      S3JobManifestGenerator: {
        SourceBucket: 'arn:aws:s3:::batch-source',
        EnableManifestOutput: true,
        ManifestOutputLocation: {
          Bucket: 'arn:aws:s3:::batch-reports',
          ManifestPrefix: 'manifests',
          ManifestFormat: 'S3InventoryReport_CSV_20211130',
        },
        Filter: { KeyNameConstraint: { MatchAnyPrefix: [prefix] } },
      },
    },
    Report: {
      Enabled: true,
      Bucket: 'arn:aws:s3:::batch-reports',
      Format: 'Report_CSV_20180820',
      Prefix: 'reports',
      ReportScope: 'AllTasks',
    },
    ...more,
  };
}

async function put(key: string) {
  await t.s3Client.send(new PutObjectCommand({ Bucket: 'batch-source', Key: key, Body: `body of ${key}` }));
}

async function text(key: string): Promise<string> {
  const got = await t.s3Client.send(new GetObjectCommand({ Bucket: 'batch-reports', Key: key }));
  return (await got.Body?.transformToString()) ?? '';
}

async function report(jobId: string) {
  const manifest = JSON.parse(await text(`reports/job-${jobId}/manifest.json`)) as {
    Format: string;
    ReportSchema: string;
    Results: { TaskExecutionStatus: string; Bucket: string; Key: string; MD5Checksum: string }[];
  };
  const rows: string[] = [];
  for (const r of manifest.Results) rows.push(...(await text(r.Key)).trim().split('\n'));
  return { manifest, rows };
}

beforeAll(async () => {
  t = await startTestBatch(functions);
});
afterAll(async () => {
  await t?.stop();
});

describe('the local S3 Batch Operations through @aws-sdk/client-s3-control', () => {
  it('a generated manifest (prefix filter) runs each object once, ends Complete, and reports each one', async () => {
    const keys = ['gen/a.txt', 'gen/b c.txt', 'gen/ü/d.txt', 'gen/e,f.txt', 'gen/g+h 100%.txt'];
    for (const k of keys) await put(k);
    await put('other/x.txt');
    const c = t.client();
    const { JobId } = await c.send(new CreateJobCommand(job('batch-ok', 'gen/')));
    expect(JobId).toMatch(/^[0-9a-f-]{36}$/);
    const done = await t.waitFor(JobId ?? '', ['Complete', 'Failed']);
    expect(done.Status).toBe('Complete');
    expect(done.ProgressSummary).toMatchObject({
      TotalNumberOfTasks: 5,
      NumberOfTasksSucceeded: 5,
      NumberOfTasksFailed: 0,
    });
    expect(done.ProgressSummary?.Timers?.ElapsedTimeInActiveSeconds).toBeGreaterThanOrEqual(0);
    expect(done.TerminationDate).toBeInstanceOf(Date);
    expect(done.CreationTime).toBeInstanceOf(Date);
    expect(done.Operation?.LambdaInvoke?.UserArguments).toEqual({ campaign: 'gen/' });
    // Each object once, with the 2.0 event.
    const seen = (calls.ok ?? []).filter((e) => e.job.id === JobId);
    expect(seen.map(keyOf).sort()).toEqual([...keys].sort());
    // Encoded as AWS encodes keys: a space as '+', a '+' of the key as %2B, '%' as %25.
    expect(seen.map((e) => e.tasks[0]?.s3Key).sort()).toEqual(
      ['gen/a.txt', 'gen/b+c.txt', 'gen/%C3%BC/d.txt', 'gen/e%2Cf.txt', 'gen/g%2Bh+100%25.txt']
        .map((k) => k.replace(/\//g, '%2F'))
        .sort(),
    );
    expect(seen[0]).toMatchObject({
      invocationSchemaVersion: '2.0',
      job: { id: JobId, userArguments: { campaign: 'gen/' } },
      tasks: [{ s3Bucket: 'batch-source', s3VersionId: null }],
    });
    // The completion report.
    const { manifest, rows } = await report(JobId ?? '');
    expect(manifest.Format).toBe('Report_CSV_20180820');
    expect(manifest.ReportSchema).toBe(
      'Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage',
    );
    expect(manifest.Results.map((r) => r.TaskExecutionStatus)).toEqual(['succeeded']);
    expect(manifest.Results[0]?.Key).toMatch(new RegExp(`^reports/job-${JobId}/results/[0-9a-f]{40}\\.csv$`));
    expect(rows.sort()).toEqual(
      keys
        .map((k) => `batch-source,${encodeURIComponent(k).replace(/%20/g, '+')},,succeeded,200,,"done ${k}"`)
        .sort(),
    );
    // The generated manifest, where the job asked for it.
    expect(done.GeneratedManifestDescriptor?.Format).toBe('S3InventoryReport_CSV_20211130');
    expect(done.GeneratedManifestDescriptor?.Location?.ObjectArn).toBe(
      `arn:aws:s3:::batch-reports/manifests/job-${JobId}/manifest.json`,
    );
    const listed = await t.s3Client.send(
      new ListObjectsV2Command({ Bucket: 'batch-reports', Prefix: `manifests/job-${JobId}/` }),
    );
    expect(listed.Contents?.length).toBe(2);
  });

  it('a job that requires confirmation waits Suspended until UpdateJobStatus Ready', async () => {
    await put('confirm/1');
    const c = t.client();
    const { JobId = '' } = await c.send(
      new CreateJobCommand(job('batch-ok', 'confirm/', { ConfirmationRequired: true })),
    );
    const suspended = await t.waitFor(JobId, ['Suspended']);
    expect(suspended.ConfirmationRequired).toBe(true);
    expect(suspended.ProgressSummary?.TotalNumberOfTasks).toBe(1);
    await new Promise((r) => setTimeout(r, 100));
    expect((calls.ok ?? []).some((e) => e.job.id === JobId)).toBe(false);
    const updated = await c.send(
      new UpdateJobStatusCommand({
        AccountId: A,
        JobId,
        RequestedJobStatus: 'Ready',
        StatusUpdateReason: 'looks right',
      }),
    );
    expect(updated.StatusUpdateReason).toBe('looks right');
    const done = await t.waitFor(JobId, ['Complete']);
    expect(done.StatusUpdateReason).toBe('looks right');
    expect((calls.ok ?? []).filter((e) => e.job.id === JobId)).toHaveLength(1);
    // A finished job cannot be confirmed again.
    await expect(
      c.send(new UpdateJobStatusCommand({ AccountId: A, JobId, RequestedJobStatus: 'Ready' })),
    ).rejects.toMatchObject({ name: 'JobStatusException', $metadata: { httpStatusCode: 400 } });
  });

  it('cancel mid-way: the tasks in flight finish, no new one starts, the job ends Cancelled', async () => {
    for (let i = 0; i < 40; i += 1) await put(`cancel/${String(i).padStart(2, '0')}`);
    const g = newGate();
    const c = t.client();
    const { JobId = '' } = await c.send(new CreateJobCommand(job('batch-gated', 'cancel/')));
    await t.waitFor(JobId, ['Active']);
    // Wait for the 16 invocations in flight.
    for (let i = 0; i < 200 && (calls.gated ?? []).length < 16; i += 1)
      await new Promise((r) => setTimeout(r, 10));
    const cancelling = await c.send(
      new UpdateJobStatusCommand({
        AccountId: A,
        JobId,
        RequestedJobStatus: 'Cancelled',
        StatusUpdateReason: 'stop',
      }),
    );
    expect(cancelling.Status).toBe('Cancelling');
    g.open();
    const done = await t.waitFor(JobId, ['Cancelled']);
    expect(done.StatusUpdateReason).toBe('stop');
    expect(done.ProgressSummary?.TotalNumberOfTasks).toBe(40);
    expect(done.ProgressSummary?.NumberOfTasksSucceeded).toBe(16);
    expect((calls.gated ?? []).length).toBe(16);
    expect(done.TerminationDate).toBeInstanceOf(Date);
    // A report for the tasks that ran.
    const { rows } = await report(JobId);
    expect(rows).toHaveLength(16);
  });

  it('TemporaryFailure is retried and then succeeds; PermanentFailure is reported with its message', async () => {
    await put('mixed/temp-1');
    await put('mixed/perm-1');
    await put('mixed/fine-1');
    const c = t.client();
    const { JobId = '' } = await c.send(new CreateJobCommand(job('batch-mixed', 'mixed/')));
    const done = await t.waitFor(JobId, ['Complete']);
    expect(done.ProgressSummary).toMatchObject({
      TotalNumberOfTasks: 3,
      NumberOfTasksSucceeded: 2,
      NumberOfTasksFailed: 1,
    });
    const mine = (calls.mixed ?? []).filter((e) => e.job.id === JobId).map(keyOf);
    expect(mine.filter((k) => k === 'mixed/temp-1')).toHaveLength(2);
    expect(mine.filter((k) => k === 'mixed/perm-1')).toHaveLength(1);
    const { manifest, rows } = await report(JobId);
    expect(manifest.Results.map((r) => r.TaskExecutionStatus).sort()).toEqual(['failed', 'succeeded']);
    expect(rows).toContain(
      'batch-source,mixed%2Fperm-1,,failed,200,PermanentFailure,"cannot do mixed/perm-1"',
    );
    expect(rows).toContain('batch-source,mixed%2Ftemp-1,,succeeded,200,,"ok"');
  });

  it('a function that throws is retried (3 attempts) and then counted failed', async () => {
    await put('throws/1');
    const c = t.client();
    const { JobId = '' } = await c.send(
      new CreateJobCommand(
        job('batch-throws', 'throws/', {
          Report: {
            Enabled: true,
            Bucket: 'arn:aws:s3:::batch-reports',
            Format: 'Report_CSV_20180820',
            Prefix: 'reports',
            ReportScope: 'FailedTasksOnly',
          },
        }),
      ),
    );
    const done = await t.waitFor(JobId, ['Complete', 'Failed']);
    expect(done.Status).toBe('Complete');
    expect(done.ProgressSummary).toMatchObject({
      TotalNumberOfTasks: 1,
      NumberOfTasksSucceeded: 0,
      NumberOfTasksFailed: 1,
    });
    expect((calls.throws ?? []).filter((e) => e.job.id === JobId)).toHaveLength(3);
    const { manifest, rows } = await report(JobId);
    expect(manifest.Results.map((r) => r.TaskExecutionStatus)).toEqual(['failed']);
    expect(rows).toEqual([
      'batch-source,throws%2F1,,failed,200,PermanentFailure,"Lambda returned function error: {""errorMessage"":""boom""}"',
    ]);
  });

  it('the same ClientRequestToken answers the same job; with another request it is refused', async () => {
    const c = t.client();
    const input = job('batch-ok', 'idem/');
    const first = await c.send(new CreateJobCommand(input));
    const again = await c.send(new CreateJobCommand(input));
    expect(again.JobId).toBe(first.JobId);
    await expect(c.send(new CreateJobCommand({ ...input, Priority: 99 }))).rejects.toMatchObject({
      name: 'IdempotencyException',
      $metadata: { httpStatusCode: 400 },
    });
    await t.waitFor(first.JobId ?? '', ['Complete']);
  });

  it('ListJobs filters by status and pages with NextToken; UpdateJobPriority changes the priority', async () => {
    const c = t.client();
    const { JobId = '' } = await c.send(
      new CreateJobCommand(job('batch-ok', 'list/', { ConfirmationRequired: true })),
    );
    await t.waitFor(JobId, ['Suspended']);
    const suspended = await c.send(new ListJobsCommand({ AccountId: A, JobStatuses: ['Suspended'] }));
    expect(suspended.Jobs?.map((j) => j.JobId)).toEqual([JobId]);
    expect(suspended.Jobs?.[0]).toMatchObject({
      Operation: 'LambdaInvoke',
      Status: 'Suspended',
      Priority: 10,
    });
    const ids: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await c.send(new ListJobsCommand({ AccountId: A, MaxResults: 2, NextToken: token }));
      expect(page.Jobs?.length ?? 0).toBeLessThanOrEqual(2);
      ids.push(...(page.Jobs ?? []).map((j) => j.JobId ?? ''));
      token = page.NextToken;
      pages += 1;
    } while (token);
    expect(pages).toBeGreaterThan(2);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toContain(JobId);
    const p = await c.send(new UpdateJobPriorityCommand({ AccountId: A, JobId, Priority: 42 }));
    expect(p).toMatchObject({ JobId, Priority: 42 });
    const d = await c.send(new DescribeJobCommand({ AccountId: A, JobId }));
    expect(d.Job?.Priority).toBe(42);
    const cancelled = await c.send(
      new UpdateJobStatusCommand({ AccountId: A, JobId, RequestedJobStatus: 'Cancelled' }),
    );
    expect(cancelled.Status).toBe('Cancelled');
  });

  it("bad requests get S3 Control's error codes", async () => {
    const c = t.client();
    await expect(
      c.send(new DescribeJobCommand({ AccountId: A, JobId: '00000000-0000-4000-8000-000000000000' })),
    ).rejects.toMatchObject({ name: 'NoSuchJob', $metadata: { httpStatusCode: 404 } });
    await expect(
      c.send(new CreateJobCommand(job('batch-ok', 'x/', { RoleArn: 'not-a-role' }))),
    ).rejects.toMatchObject({
      name: 'InvalidRequest',
      $metadata: { httpStatusCode: 400 },
    });
    await expect(c.send(new CreateJobCommand(job('batch-ok', 'x/', { Priority: -1 })))).rejects.toMatchObject(
      { name: 'InvalidRequest', $metadata: { httpStatusCode: 400 } },
    );
    await expect(
      c.send(new CreateJobCommand({ ...job('batch-ok', 'x/'), ManifestGenerator: undefined })),
    ).rejects.toMatchObject({ name: 'InvalidRequest', $metadata: { httpStatusCode: 400 } });
    await expect(c.send(new ListJobsCommand({ AccountId: '222233334444' }))).rejects.toMatchObject({
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
    });
  });

  it('an unreadable manifest fails the job with its reason', async () => {
    const c = t.client();
    const { JobId = '' } = await c.send(
      new CreateJobCommand({
        ...job('batch-ok', 'x/'),
        ManifestGenerator: undefined,
        Manifest: {
          Spec: { Format: 'S3BatchOperations_CSV_20180820', Fields: ['Bucket', 'Key'] },
          Location: { ObjectArn: 'arn:aws:s3:::batch-source/no-such-manifest.csv', ETag: 'abc' },
        },
      }),
    );
    const done = await t.waitFor(JobId, ['Failed']);
    expect(done.FailureReasons?.[0]?.FailureCode).toBe('ManifestReadFailure');
    expect(done.TerminationDate).toBeInstanceOf(Date);
  });

  it('a CSV manifest is read (keys URL-encoded) and checked against its ETag', async () => {
    await put('csv/one two');
    const body = 'batch-source,csv/one%20two\n';
    const putManifest = await t.s3Client.send(
      new PutObjectCommand({ Bucket: 'batch-source', Key: 'manifests/m.csv', Body: body }),
    );
    const c = t.client();
    const { JobId = '' } = await c.send(
      new CreateJobCommand({
        ...job('batch-ok', 'x/'),
        ManifestGenerator: undefined,
        Manifest: {
          Spec: { Format: 'S3BatchOperations_CSV_20180820', Fields: ['Bucket', 'Key'] },
          Location: { ObjectArn: 'arn:aws:s3:::batch-source/manifests/m.csv', ETag: putManifest.ETag ?? '' },
        },
      }),
    );
    const done = await t.waitFor(JobId, ['Complete', 'Failed']);
    expect(done.Status).toBe('Complete');
    expect((calls.ok ?? []).filter((e) => e.job.id === JobId).map(keyOf)).toEqual(['csv/one two']);
  });

  it('an S3 Inventory report (manifest.json, gzip CSV files) is read as the manifest, checked against its ETag and checksums', async () => {
    for (const k of ['inv/a b', 'inv/c,d', 'inv/e']) await put(k);
    // A report as S3 Inventory delivers it: quoted cells, keys URL-encoded, gzip data files.
    const base = 'inventory/batch-source/all/2026-01-01T00-00Z';
    const rows = (keys: string[]) =>
      gzipSync(keys.map((k) => `"batch-source","${encodeURIComponent(k)}","","true","1"`).join('\n'));
    const files = [
      { key: 'inventory/batch-source/all/data/1.csv.gz', body: rows(['inv/a b', 'inv/c,d']) },
      { key: 'inventory/batch-source/all/data/2.csv.gz', body: rows(['inv/e']) },
    ];
    for (const f of files)
      await t.s3Client.send(new PutObjectCommand({ Bucket: 'batch-source', Key: f.key, Body: f.body }));
    const manifest = (over: Record<string, unknown> = {}) =>
      JSON.stringify({
        sourceBucket: 'batch-source',
        destinationBucket: 'arn:aws:s3:::batch-source',
        version: '2016-11-30',
        creationTimestamp: '1767225600000',
        fileFormat: 'CSV',
        fileSchema: 'Bucket, Key, VersionId, IsLatest, Size',
        files: files.map((f) => ({
          key: f.key,
          size: f.body.length,
          MD5checksum: createHash('md5').update(f.body).digest('hex'),
        })),
        ...over,
      });
    const c = t.client();
    const run = async (key: string, body: string, etag?: string) => {
      const stored = await t.s3Client.send(
        new PutObjectCommand({ Bucket: 'batch-source', Key: key, Body: body }),
      );
      const { JobId = '' } = await c.send(
        new CreateJobCommand({
          ...job('batch-ok', 'x/'),
          ManifestGenerator: undefined,
          Manifest: {
            Spec: { Format: 'S3InventoryReport_CSV_20161130' },
            Location: { ObjectArn: `arn:aws:s3:::batch-source/${key}`, ETag: etag ?? stored.ETag ?? '' },
          },
        }),
      );
      return { JobId, done: await t.waitFor(JobId, ['Complete', 'Failed']) };
    };
    const ok = await run(`${base}/manifest.json`, manifest());
    expect(ok.done.Status).toBe('Complete');
    expect(ok.done.Manifest?.Spec?.Format).toBe('S3InventoryReport_CSV_20161130');
    expect(ok.done.ProgressSummary?.TotalNumberOfTasks).toBe(3);
    expect(
      (calls.ok ?? [])
        .filter((e) => e.job.id === ok.JobId)
        .map(keyOf)
        .sort(),
    ).toEqual(['inv/a b', 'inv/c,d', 'inv/e']);
    // Another ETag than the manifest object's, a data file whose checksum differs, a report not in CSV.
    const stale = await run(`${base}/manifest.json`, manifest(), '"0123456789abcdef0123456789abcdef"');
    expect(stale.done.FailureReasons?.[0]).toMatchObject({
      FailureCode: 'ManifestReadFailure',
      FailureReason: expect.stringContaining('ETag'),
    });
    const tampered = await run(
      'inventory/tampered/manifest.json',
      manifest({ files: [{ key: files[0]?.key, size: 1, MD5checksum: '0'.repeat(32) }] }),
    );
    expect(tampered.done.FailureReasons?.[0]?.FailureReason).toContain('MD5checksum');
    const orc = await run('inventory/orc/manifest.json', manifest({ fileFormat: 'ORC' }));
    expect(orc.done.FailureReasons?.[0]?.FailureReason).toContain('CSV');
  });

  it('a principal whose policies do not allow s3:CreateJob is refused', async () => {
    // myOutsider is not one of the roles: it acts as the account's root, like the seed users.
    // The job's role itself is restricted: its policies allow no s3:CreateJob.
    const role = t.identities.byName(BATCH_ROLE.name);
    const { controlClientFor } = await import('../helpers/local-s3control.js');
    const asRole = controlClientFor(t.control.endpoint, role);
    await expect(asRole.send(new CreateJobCommand(job('batch-ok', 'x/')))).rejects.toMatchObject({
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
    });
    asRole.destroy();
    expect(t.identities.byName(OUTSIDER)).toBeDefined();
  });

  it('a caller whose policies decide needs s3:CreateJob and iam:PassRole on the job role (to S3), and s3:ListJobs to list', async () => {
    const refused = t.client(NON_PASSING_CALLER.name);
    await expect(refused.send(new CreateJobCommand(job('batch-ok', 'pass/')))).rejects.toMatchObject({
      name: 'AccessDenied',
      message: expect.stringContaining(`iam:PassRole on resource: ${BATCH_ROLE.arn}`),
      $metadata: { httpStatusCode: 403 },
    });
    const allowed = t.client(PASSING_CALLER.name);
    const { JobId = '' } = await allowed.send(new CreateJobCommand(job('batch-ok', 'pass/')));
    const described = await allowed.send(new DescribeJobCommand({ AccountId: A, JobId }));
    expect(described.Job?.JobId).toBe(JobId);
    await expect(allowed.send(new ListJobsCommand({ AccountId: A }))).rejects.toMatchObject({
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
    });
    await t.waitFor(JobId, ['Complete']);
  });

  it('jobs survive a restart, and an Active job resumes with the tasks not yet done', async () => {
    for (let i = 0; i < 20; i += 1) await put(`resume/${String(i).padStart(2, '0')}`);
    const g = newGate();
    const before = (calls.gated ?? []).length;
    const c = t.client();
    const { JobId = '' } = await c.send(new CreateJobCommand(job('batch-gated', 'resume/')));
    for (let i = 0; i < 200 && (calls.gated ?? []).length < before + 16; i += 1)
      await new Promise((r) => setTimeout(r, 10));
    // Stop while 16 tasks are in flight: they finish, the rest waits for the next start.
    const stopping = t.restartControl();
    g.open();
    await stopping;
    const done = await t.waitFor(JobId, ['Complete']);
    expect(done.ProgressSummary).toMatchObject({ TotalNumberOfTasks: 20, NumberOfTasksSucceeded: 20 });
    const keys = (calls.gated ?? []).filter((e) => e.job.id === JobId).map(keyOf);
    expect(new Set(keys).size).toBe(20);
    // The 16 that ended before the stop were saved, and not run again.
    expect(keys).toHaveLength(20);
  });
});

describe('the task-failure threshold', () => {
  it('once the minimum of tasks ran, more than 50% failed fails the job (AWS: 1,000 tasks)', async () => {
    let invoked = 0;
    const b = await startTestBatch(
      {
        [fnArn('batch-fails')]: async (e: BatchInvocationEvent) => {
          invoked += 1;
          return answer(e, 'PermanentFailure', 'no');
        },
      },
      { failureThresholdMinTasks: 10, concurrency: 1 },
    );
    try {
      for (let i = 0; i < 30; i += 1)
        await b.s3Client.send(new PutObjectCommand({ Bucket: 'batch-source', Key: `t/${i}`, Body: 'x' }));
      const { JobId = '' } = await b.client().send(new CreateJobCommand(job('batch-fails', 't/')));
      const done = await b.waitFor(JobId, ['Failed', 'Complete']);
      expect(done.Status).toBe('Failed');
      expect(done.FailureReasons?.[0]?.FailureCode).toBe('TaskFailureThresholdExceeded');
      expect(done.ProgressSummary).toMatchObject({ TotalNumberOfTasks: 30, NumberOfTasksFailed: 10 });
      expect(invoked).toBe(10);
    } finally {
      await b.stop();
    }
  });
});
