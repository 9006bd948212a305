import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/core/errors.js';
import {
  countTask,
  failureReason,
  JOB_ARGUMENT,
  parseReportCsv,
  phaseOfStatus,
  taskResult,
} from '../../src/core/rewrap-batch.js';
import type { Keys } from '../../src/ports.js';
import { AccessControl } from '../../src/services/access.js';
import { KeyService } from '../../src/services/keys.js';
import { RewrapService } from '../../src/services/rewrap.js';
import { MemoryBatchJobs } from '../fakes/batch-jobs.js';
import { MemoryJobObjects } from '../fakes/job-objects.js';
import { ACCOUNT, MemoryKms } from '../fakes/kms.js';

/** Which engine runs a job, and the job's view of a batch job read back from S3 (DescribeJob, the report). */

const user = (name: string) => `arn:aws:iam::${ACCOUNT}:user/${name}`;
const OPERATOR = user('operator');
const APP = user('app');

async function setup(options: { threshold?: number; batch?: boolean } = {}) {
  const kms = new MemoryKms();
  const access = new AccessControl(kms, { ttlMs: 0 });
  const keys = new KeyService(kms, access, ACCOUNT, { aliasOperators: [OPERATOR] });
  const r = { caller: { arn: OPERATOR }, record: () => undefined };
  const source = (await keys.create(r, { users: [APP], alias: 'old' })).key.arn;
  const destination = (await keys.create(r, { users: [APP], alias: 'new' })).key.arn;
  const vault = new MemoryJobObjects();
  const reports = new MemoryJobObjects();
  const batchJobs = new MemoryBatchJobs(vault, reports);
  const rewrap = new RewrapService({} as Keys, kms, access, vault, vault, {
    retry: { baseMs: 1, maxMs: 2 },
    ...(options.batch === false
      ? {}
      : {
          batch: {
            jobs: batchJobs,
            functionArn: 'arn:aws:lambda:us-east-1:111122223333:function:f',
            roleArn: 'arn:aws:iam::111122223333:role/r',
            vaultBucket: 'eaas-vault',
            objectPrefix: 'tenant-a/',
            report: { bucket: 'eaas-reports', prefix: 'reports/' },
            reports,
            priority: 7,
            threshold: options.threshold ?? 3,
            retry: { baseMs: 1, maxMs: 2 },
          },
        }),
  });
  const put = (key: string) => vault.write(key, 'x', { contentType: 'application/octet-stream' });
  const input = { sourceKeyId: 'alias/old', destinationKeyId: 'alias/new', prefix: 'hr/' };
  return { rewrap, vault, reports, batchJobs, put, input, source, destination };
}

describe('the engine of a new job', () => {
  it('auto: scheduled below the threshold of documents under the prefix, batch at it (instruction files not counted)', async () => {
    const { rewrap, batchJobs, put, input } = await setup({ threshold: 3 });
    await put('hr/1');
    await put('hr/1.instruction');
    await put('hr/2');
    await put('other/3');
    const small = await rewrap.start({ arn: OPERATOR }, input);
    expect(small.engine).toBe('auto');
    expect((await rewrap.load(small.id))?.job.engine).toBe('scheduled');
    expect(batchJobs.creates).toBe(0);
    await put('hr/3');
    const large = await rewrap.start({ arn: OPERATOR }, input);
    // The view shows what was asked, never what auto picked (a bit about the prefix's size).
    expect(large.engine).toBe('auto');
    expect(Object.keys(large).sort()).toEqual(Object.keys(small).sort());
    const record = (await rewrap.load(large.id))?.job;
    expect(record?.engine).toBe('batch');
    expect(record?.batch?.jobId).toBe(batchJobs.jobFor(large.id).id);
    expect(batchJobs.jobFor(large.id).request).toMatchObject({
      clientRequestToken: large.id,
      userArguments: { [JOB_ARGUMENT]: large.id },
      manifest: { bucket: 'eaas-vault', prefix: 'tenant-a/hr/' },
      priority: 7,
    });
  });

  it('explicit: scheduled or batch as asked, whatever the count; batch where not deployed is a 400', async () => {
    const { rewrap, put, input } = await setup({ threshold: 1 });
    await put('hr/1');
    const scheduled = await rewrap.start({ arn: OPERATOR }, { ...input, engine: 'scheduled' });
    expect((await rewrap.load(scheduled.id))?.job.engine).toBe('scheduled');
    const batch = await rewrap.start({ arn: OPERATOR }, { ...input, prefix: 'none/', engine: 'batch' });
    expect((await rewrap.load(batch.id))?.job.engine).toBe('batch');

    const without = await setup({ batch: false });
    await without.put('hr/1');
    const auto = await without.rewrap.start({ arn: OPERATOR }, without.input);
    expect((await without.rewrap.load(auto.id))?.job.engine).toBe('scheduled');
    await expect(
      without.rewrap.start({ arn: OPERATOR }, { ...without.input, engine: 'batch' }),
    ).rejects.toMatchObject({
      code: 'ValidationError',
    });
  });

  it('the scheduled runner leaves a batch job to S3: no lease, no page, no write to the documents', async () => {
    const { rewrap, vault, put, input } = await setup({ threshold: 1 });
    await put('hr/1');
    const view = await rewrap.start({ arn: OPERATOR }, { ...input, engine: 'batch' });
    const before = vault.objects.get('hr/1')?.etag;
    expect(await rewrap.run(view.id)).toBeUndefined();
    await rewrap.tick();
    const job = (await rewrap.load(view.id))?.job;
    expect(job?.lease).toBeUndefined();
    expect(job?.pages).toBe(0);
    expect(vault.objects.get('hr/1')?.etag).toBe(before);
  });

  it('a CreateJob that failed at the start is made by the next tick, once (the job id is the token)', async () => {
    const { rewrap, batchJobs, input } = await setup();
    const create = batchJobs.create.bind(batchJobs);
    let fail = true;
    batchJobs.create = async (request) => {
      if (fail) throw new Error('network');
      return create(request);
    };
    const view = await rewrap.start({ arn: OPERATOR }, { ...input, engine: 'batch' });
    expect((await rewrap.load(view.id))?.job.batch?.jobId).toBeUndefined();
    fail = false;
    await rewrap.tick();
    await rewrap.tick();
    expect((await rewrap.load(view.id))?.job.batch?.jobId).toBe(batchJobs.jobFor(view.id).id);
    expect(batchJobs.jobs.size).toBe(1);
  });
});

describe("a batch job's view, from DescribeJob and the completion report", () => {
  async function batchJob() {
    const s = await setup();
    const view = await s.rewrap.start({ arn: OPERATOR }, { ...s.input, engine: 'batch' });
    return { ...s, id: view.id, fake: s.batchJobs.jobFor(view.id) };
  }
  const report = (rows: string[]) => `${rows.join('\r\n')}\r\n`;

  it('pending, then running with the progress in the record only, then succeeded', async () => {
    const { rewrap, id, fake } = await batchJob();
    expect((await rewrap.status({ arn: OPERATOR }, id)).state).toBe('pending');
    fake.status = 'Active';
    fake.total = 10;
    fake.succeeded = 4;
    fake.failed = 1;
    const running = await rewrap.status({ arn: OPERATOR }, id);
    expect(running.state).toBe('running');
    for (const leak of ['total', 'counts', 'succeeded', 'tasks', 'batch'])
      expect(running).not.toHaveProperty(leak);
    const record = (await rewrap.load(id))?.job;
    expect(record).toMatchObject({ total: 10, counts: { scanned: 5 }, batch: { status: 'Active' } });
    fake.status = 'Complete';
    fake.succeeded = 10;
    fake.failed = 0;
    const done = await rewrap.status({ arn: OPERATOR }, id);
    expect(done).toMatchObject({ state: 'succeeded', engine: 'batch' });
    expect(done.report?.summary).toMatch(/^The job finished\. /);
    expect(await rewrap.unfinished()).toEqual([]);
  });

  it('completed-with-failures only for failures of objects known under its keys (the report, parsed)', async () => {
    for (const [message, state] of [
      ['failed: too-large-to-copy', 'completed-with-failures'],
      ['retry: Throttled', 'completed-with-failures'],
      ['failed: unknown-key:malformed-metadata', 'succeeded'],
      ['not a document of this service', 'succeeded'],
    ] as const) {
      const { rewrap, reports, id, fake } = await batchJob();
      fake.status = 'Complete';
      fake.total = 2;
      fake.succeeded = 1;
      fake.failed = 1;
      const base = `reports/job-${fake.id}`;
      await reports.write(
        `${base}/results/f.csv`,
        report([`eaas-vault,tenant-a/hr/secret-plan.docx,,failed,200,PermanentFailure,"${message}"`]),
        { contentType: 'text/csv' },
      );
      await reports.write(
        `${base}/manifest.json`,
        JSON.stringify({
          Results: [{ TaskExecutionStatus: 'failed', Bucket: 'eaas-reports', Key: `${base}/results/f.csv` }],
        }),
        { contentType: 'application/json' },
      );
      const view = await rewrap.status({ arn: OPERATOR }, id);
      expect(view.state, message).toBe(state);
      // The view names no object and counts none; the record keeps the failed key for operators.
      expect(JSON.stringify(view)).not.toContain('secret-plan');
      expect(JSON.stringify(view)).not.toMatch(/"(counts|failures|total)"/);
      expect((await rewrap.load(id))?.job.failures[0]?.key).toBe('hr/secret-plan.docx');
    }
  });

  it("counts a completed job's objects from the report as a scheduled job counts them", async () => {
    const { rewrap, reports, id, fake } = await batchJob();
    fake.status = 'Complete';
    fake.total = 9;
    fake.succeeded = 8;
    fake.failed = 1;
    const base = `reports/job-${fake.id}`;
    const row = (key: string, status: string, message: string) =>
      `eaas-vault,${encodeURIComponent(`tenant-a/${key}`)},,${status},200,${status === 'failed' ? 'PermanentFailure' : ''},"${message}"`;
    await reports.write(
      `${base}/results/s.csv`,
      report([
        row('hr/a', 'succeeded', 'rewrapped'),
        row('hr/b', 'succeeded', 'rewrapped'),
        row('hr/b.instruction', 'succeeded', 'skipped: not-a-document'),
        row('hr/c', 'succeeded', 'already re-wrapped'),
        row('hr/d', 'succeeded', 'skipped: other-key'),
        row('hr/e', 'succeeded', 'skipped: unknown-key'),
        row('hr/f', 'succeeded', 'skipped: not-authorized'),
        row('hr/g', 'succeeded', 'skipped: deleted'),
      ]),
      { contentType: 'text/csv' },
    );
    await reports.write(
      `${base}/results/f.csv`,
      report([row('hr/big file', 'failed', 'failed: too-large-to-copy')]),
      { contentType: 'text/csv' },
    );
    await reports.write(
      `${base}/manifest.json`,
      JSON.stringify({
        Results: [
          { TaskExecutionStatus: 'succeeded', Bucket: 'eaas-reports', Key: `${base}/results/s.csv` },
          { TaskExecutionStatus: 'failed', Bucket: 'eaas-reports', Key: `${base}/results/f.csv` },
        ],
      }),
      { contentType: 'application/json' },
    );
    expect((await rewrap.status({ arn: OPERATOR }, id)).state).toBe('completed-with-failures');
    const record = (await rewrap.load(id))?.job;
    // The instruction file is no object: 8 objects, where S3 ran 9 tasks.
    expect(record?.counts).toEqual({
      scanned: 8,
      rewrapped: 2,
      alreadyCurrent: 1,
      skipped: { 'other-key': 1, 'unknown-key': 1, 'not-authorized': 1, deleted: 1 },
      failed: { 'too-large-to-copy': 1 },
    });
    expect(record?.total).toBe(8);
    expect(record?.batch?.tasks).toEqual({ total: 9, succeeded: 8, failed: 1 });
    expect(record?.failures).toEqual([{ key: 'hr/big file', reason: 'too-large-to-copy' }]);
  });

  it('succeeded with nothing counted when S3 ran no task, without reading a report S3 never wrote', async () => {
    const { rewrap, reports, id, fake } = await batchJob();
    fake.status = 'Complete';
    fake.total = 0;
    // As S3 answers the jobs' role, which may not list the reports bucket: 403 for an absent key.
    reports.read = async () => {
      throw new DomainError('InternalError', 'AccessDenied');
    };
    expect((await rewrap.status({ arn: OPERATOR }, id)).state).toBe('succeeded');
    const record = (await rewrap.load(id))?.job;
    expect(record).toMatchObject({ phase: 'succeeded', total: 0, counts: { scanned: 0, rewrapped: 0 } });
    expect(await rewrap.unfinished()).toEqual([]);
  });

  it('Failed and Cancelled as they are; cancel asks S3 (UpdateJobStatus) and the record says cancelled at once', async () => {
    const { rewrap, id, fake } = await batchJob();
    fake.status = 'Active';
    const cancelled = await rewrap.cancel({ arn: OPERATOR }, id);
    expect(cancelled.state).toBe('cancelled');
    expect(fake.status).toBe('Cancelled');
    expect((await rewrap.status({ arn: OPERATOR }, id)).report?.summary).toMatch(/^The job was cancelled\. /);
    const other = await batchJob();
    other.fake.status = 'Failed';
    expect((await other.rewrap.status({ arn: OPERATOR }, other.id)).state).toBe('failed');
    // Someone who does not administer the keys may not cancel.
    await expect(other.rewrap.cancel({ arn: APP }, other.id)).rejects.toMatchObject({ code: 'AccessDenied' });
  });
});

describe('cancelling a batch job, and listing batch jobs', () => {
  async function batchJob() {
    const s = await setup();
    const view = await s.rewrap.start({ arn: OPERATOR }, { ...s.input, engine: 'batch' });
    return { ...s, id: view.id, fake: s.batchJobs.jobFor(view.id) };
  }

  it('one S3 already completed is finished: 409 InvalidState, S3 not asked, the view as GET shows it', async () => {
    const { rewrap, id, fake, batchJobs } = await batchJob();
    fake.status = 'Complete';
    fake.total = 2;
    fake.succeeded = 2;
    let asked = 0;
    batchJobs.cancel = async () => {
      asked++;
    };
    await expect(rewrap.cancel({ arn: OPERATOR }, id)).rejects.toMatchObject({ code: 'InvalidState' });
    expect(asked).toBe(0);
    expect((await rewrap.status({ arn: OPERATOR }, id)).state).toBe('succeeded');
  });

  it('UpdateJobStatus failing leaves the job cancelled (its tasks are refused), and no 500', async () => {
    const { rewrap, id, fake, batchJobs } = await batchJob();
    fake.status = 'Active';
    batchJobs.cancel = async () => {
      throw new Error('network');
    };
    expect((await rewrap.cancel({ arn: OPERATOR }, id)).state).toBe('cancelled');
    expect((await rewrap.load(id))?.job.phase).toBe('cancelled');
    expect(await rewrap.unfinished()).toEqual([]);
  });

  it("GET /v1/jobs shows a batch job's state as GET /v1/jobs/{id} would, reading S3 only for unfinished batch jobs", async () => {
    const { rewrap, batchJobs, id, fake, input } = await batchJob();
    const scheduled = await rewrap.start({ arn: OPERATOR }, { ...input, engine: 'scheduled' });
    const describe = batchJobs.describe.bind(batchJobs);
    let described = 0;
    batchJobs.describe = async (jobId) => {
      described++;
      return describe(jobId);
    };
    const listed = async () =>
      Object.fromEntries(
        (await rewrap.list({ arn: OPERATOR }, 50, undefined)).jobs.map((j) => [j.id, j.state]),
      );
    expect(await listed()).toEqual({ [id]: 'pending', [scheduled.id]: 'pending' });
    expect(described).toBe(1);
    fake.status = 'Active';
    expect((await listed())[id]).toBe('running');
    fake.status = 'Complete';
    fake.total = 1;
    fake.succeeded = 1;
    expect((await listed())[id]).toBe('succeeded');
    expect((await rewrap.status({ arn: OPERATOR }, id)).state).toBe('succeeded');
    // Finished: the record is S3's last word, not read again.
    described = 0;
    await listed();
    expect(described).toBe(0);
  });

  it('a listing reads at most 4 batch jobs from S3 at once', async () => {
    const { rewrap, batchJobs, input } = await setup();
    for (let i = 0; i < 9; i++) await rewrap.start({ arn: OPERATOR }, { ...input, engine: 'batch' });
    const describe = batchJobs.describe.bind(batchJobs);
    let inFlight = 0;
    let most = 0;
    batchJobs.describe = async (jobId) => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      return describe(jobId);
    };
    expect((await rewrap.list({ arn: OPERATOR }, 50, undefined)).jobs).toHaveLength(9);
    expect(most).toBe(4);
  });
});

describe('the pure rules', () => {
  it('maps outcomes to result codes', () => {
    expect(taskResult({ kind: 'failed', reason: 'unknown-key:Throttled' }, false)).toEqual({
      resultCode: 'TemporaryFailure',
      resultString: 'retry: unknown-key:Throttled',
    });
    expect(taskResult({ kind: 'deferred' }, false).resultCode).toBe('TemporaryFailure');
    expect(taskResult({ kind: 'failed', reason: 'InternalError' }, false).resultCode).toBe(
      'PermanentFailure',
    );
  });

  it("counts each task by its final result string, with the scheduled engine's meaning", () => {
    const counts = { scanned: 0, rewrapped: 0, alreadyCurrent: 0, skipped: {}, failed: {} };
    for (const [taskStatus, resultMessage] of [
      ['succeeded', taskResult({ kind: 'rewrapped' }, false).resultString],
      ['succeeded', taskResult({ kind: 'rewrapped' }, true).resultString],
      ['succeeded', taskResult({ kind: 'alreadyCurrent' }, false).resultString],
      ['succeeded', taskResult({ kind: 'skipped', reason: 'other-key' }, false).resultString],
      ['succeeded', 'skipped: not-a-document'],
      ['succeeded', 'skipped: outside-prefix'],
      ['failed', taskResult({ kind: 'failed', reason: 'Throttled' }, false).resultString],
      ['failed', taskResult({ kind: 'failed', reason: 'unknown-key:AccessDenied' }, false).resultString],
      ['failed', 'Lambda returned function error: {"errorMessage":"boom"}'],
      ['succeeded', 'something a later version answers'],
    ] as const)
      countTask(counts, { taskStatus, resultMessage });
    expect(counts).toEqual({
      scanned: 8,
      rewrapped: 2,
      alreadyCurrent: 1,
      skipped: { 'other-key': 1 },
      failed: { Throttled: 1, 'unknown-key:AccessDenied': 1, 'function-error': 1 },
    });
  });

  it('maps S3 statuses to phases', () => {
    expect(['New', 'Preparing', 'Suspended', 'Ready'].map(phaseOfStatus)).toEqual(Array(4).fill('pending'));
    expect(['Active', 'Completing', 'Cancelling', 'Failing', 'Paused'].map(phaseOfStatus)).toEqual(
      Array(5).fill('scanning'),
    );
    expect(['Complete', 'Failed', 'Cancelled'].map(phaseOfStatus)).toEqual([
      'succeeded',
      'failed',
      'cancelled',
    ]);
  });

  it('parses report rows with quotes, commas and doubled quotes', () => {
    expect(
      parseReportCsv(
        'b,"a,b",,failed,200,PermanentFailure,"Lambda returned function error: {""errorMessage"":""x""}"\nb,k,v1,succeeded,200,,rewrapped',
      ),
    ).toEqual([
      {
        key: 'a,b',
        taskStatus: 'failed',
        resultMessage: 'Lambda returned function error: {"errorMessage":"x"}',
      },
      { key: 'k', taskStatus: 'succeeded', resultMessage: 'rewrapped' },
    ]);
    expect(failureReason('Lambda returned function error: timeout')).toBe('function-error');
    expect(failureReason('job refused: job j is cancelled')).toBe('unknown-key:job-refused');
  });
});
