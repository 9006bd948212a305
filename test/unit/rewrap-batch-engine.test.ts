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

async function setup(
  options: { threshold?: number; batch?: boolean; reportTurn?: { bytes: number; ms: number } } = {},
) {
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
            ...(options.reportTurn ? { reportTurn: options.reportTurn } : {}),
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
    // S3 completed: a report of 10 tasks is counted by the request that finds it complete.
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
      await rewrap.tick();
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
    await rewrap.tick();
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
    // Finished as S3 said (a small report, counted by the request): still not cancellable.
    expect((await rewrap.status({ arn: OPERATOR }, id)).state).toBe('succeeded');
    await expect(rewrap.cancel({ arn: OPERATOR }, id)).rejects.toMatchObject({ code: 'InvalidState' });
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
    // Complete: the listing records it and counts its report of one task at once.
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

describe('a large completion report: counted by the tick only, streamed, over several turns', () => {
  const ROWS = 200_000;
  const FILES = 3;
  const TURN = 1024 * 1024;
  const row = (i: number) =>
    i % 10_000 === 7
      ? `eaas-vault,tenant-a%2Fhr%2Fdoc-${i},,failed,200,PermanentFailure,"failed: too-large-to-copy"`
      : `eaas-vault,tenant-a%2Fhr%2Fdoc-${i},,succeeded,200,,"rewrapped"`;

  /** A completed batch job whose report holds `files` results files of `rows` rows in all. */
  async function completed(rows: number, files: number, reportTurn = { bytes: TURN, ms: 60_000 }) {
    const s = await setup({ reportTurn });
    const view = await s.rewrap.start({ arn: OPERATOR }, { ...s.input, engine: 'batch' });
    const fake = s.batchJobs.jobFor(view.id);
    const base = `reports/job-${fake.id}`;
    const per = Math.ceil(rows / files);
    const results = [];
    let failed = 0;
    for (let f = 0; f < files; f++) {
      const lines: string[] = [];
      for (let i = f * per; i < Math.min(rows, (f + 1) * per); i++) {
        lines.push(row(i));
        if (i % 10_000 === 7) failed++;
      }
      const key = `${base}/results/part-${f}.csv`;
      await s.reports.write(key, `${lines.join('\n')}\n`, { contentType: 'text/csv' });
      results.push({ TaskExecutionStatus: 'succeeded', Bucket: 'eaas-reports', Key: key });
    }
    await s.reports.write(`${base}/manifest.json`, JSON.stringify({ Results: results }), {
      contentType: 'application/json',
    });
    Object.assign(fake, { status: 'Complete', total: rows, succeeded: rows - failed, failed });
    return { ...s, id: view.id, failed };
  }

  it('GET, the listing and cancel read no report: the job stays running until the tick counts it', async () => {
    const { rewrap, reports, id } = await completed(ROWS, FILES);
    const read = reports.read.bind(reports);
    const touched: string[] = [];
    reports.read = async (key) => {
      touched.push(key);
      return read(key);
    };
    const readFrom = reports.readFrom.bind(reports);
    reports.readFrom = async (key, start) => {
      touched.push(key);
      return readFrom(key, start);
    };
    expect((await rewrap.status({ arn: OPERATOR }, id)).state).toBe('running');
    expect((await rewrap.list({ arn: OPERATOR }, 10, undefined)).jobs[0]?.state).toBe('running');
    await expect(rewrap.cancel({ arn: OPERATOR }, id)).rejects.toMatchObject({ code: 'InvalidState' });
    expect(touched).toEqual([]);
    expect(reports.streamedBytes).toBe(0);
    expect(await rewrap.unfinished()).toEqual([id]);
  });

  it('each turn streams at most its budget and saves a cursor; the counts are exact at the end', async () => {
    const { rewrap, reports, id, failed } = await completed(ROWS, FILES);
    const size = [...reports.objects.entries()]
      .filter(([k]) => k.endsWith('.csv'))
      .reduce((n, [, o]) => n + Buffer.byteLength(o.text), 0);
    expect(size).toBeGreaterThan(8 * TURN);
    await rewrap.status({ arn: OPERATOR }, id);
    const offsets: { file: number; offset: number }[] = [];
    let before = 0;
    for (let turn = 0; turn < 100; turn++) {
      await rewrap.run(id);
      const job = (await rewrap.load(id))?.job;
      // One row past the budget at most, and the chunk it came in.
      expect(reports.streamedBytes - before).toBeLessThanOrEqual(TURN + reports.chunkBytes);
      before = reports.streamedBytes;
      if (!job?.batch?.report) break;
      const { file, offset } = job.batch.report;
      offsets.push({ file, offset });
      expect(job.phase).toBe('scanning');
      expect((await rewrap.status({ arn: OPERATOR }, id)).state).toBe('running');
    }
    expect(offsets.length).toBeGreaterThanOrEqual(8);
    // Each turn moves the cursor on; every file is read once, from the first byte to the last.
    for (let i = 1; i < offsets.length; i++) {
      const [a, b] = [offsets[i - 1], offsets[i]] as [
        { file: number; offset: number },
        { file: number; offset: number },
      ];
      expect(b.file > a.file || (b.file === a.file && b.offset > a.offset)).toBe(true);
    }
    expect(reports.streamedBytes).toBeLessThanOrEqual(size + offsets.length * reports.chunkBytes);
    const job = (await rewrap.load(id))?.job;
    expect(job?.phase).toBe('completed-with-failures');
    expect(job?.counts).toEqual({
      scanned: ROWS,
      rewrapped: ROWS - failed,
      alreadyCurrent: 0,
      skipped: {},
      failed: { 'too-large-to-copy': failed },
    });
    expect(job?.total).toBe(ROWS);
    expect(job?.failures).toHaveLength(failed);
    expect(job?.failures[0]).toEqual({ key: 'hr/doc-7', reason: 'too-large-to-copy' });
    expect(job?.batch?.report).toBeUndefined();
    expect(await rewrap.unfinished()).toEqual([]);
    expect((await rewrap.status({ arn: OPERATOR }, id)).state).toBe('completed-with-failures');
  });

  it('one tick counts the whole report in turns, other jobs taking theirs', async () => {
    const { rewrap, id } = await completed(ROWS, FILES);
    await rewrap.tick();
    const job = (await rewrap.load(id))?.job;
    expect(job?.phase).toBe('completed-with-failures');
    expect(job?.counts.scanned).toBe(ROWS);
  });

  it('a tick whose time is up leaves the count where it saved it, for the next tick', async () => {
    const { rewrap, id } = await completed(ROWS, FILES);
    await rewrap.status({ arn: OPERATOR }, id);
    let turns = 0;
    const scanned: number[] = [];
    for (; turns < 5; turns++) {
      let checks = 0;
      // Time is up after about a thousand rows of each tick (the count asks after each row).
      await rewrap.tick(() => ++checks > 1000);
      const job = (await rewrap.load(id))?.job;
      if (!job?.batch?.report) break;
      scanned.push(job.batch.report.counts.scanned);
    }
    expect(scanned.length).toBeGreaterThan(1);
    expect(scanned[1]).toBeGreaterThan(scanned[0] as number);
  });

  it('every results file is counted, beyond the first 100', async () => {
    const { rewrap, id } = await completed(1_500, 150);
    await rewrap.tick();
    const job = (await rewrap.load(id))?.job;
    expect(job?.counts.scanned).toBe(1_500);
    expect(job?.total).toBe(1_500);
  });

  it('a turn cut off mid-file (the stream fails) counts nothing twice: the next resumes from the last save', async () => {
    const { rewrap, reports, id, failed } = await completed(ROWS, FILES);
    await rewrap.status({ arn: OPERATOR }, id);
    await rewrap.run(id);
    const saved = (await rewrap.load(id))?.job.batch?.report;
    expect(saved?.counts.scanned).toBeGreaterThan(0);
    const readFrom = reports.readFrom.bind(reports);
    reports.readFrom = async (key, start) => {
      const body = await readFrom(key, start);
      return (
        body &&
        (async function* () {
          let n = 0;
          for await (const chunk of body) {
            if (++n > 3) throw new Error('connection reset');
            yield chunk;
          }
        })()
      );
    };
    await rewrap.run(id);
    // The failed turn saved nothing.
    expect((await rewrap.load(id))?.job.batch?.report).toEqual(saved);
    reports.readFrom = readFrom;
    await rewrap.tick();
    const job = (await rewrap.load(id))?.job;
    expect(job?.counts.scanned).toBe(ROWS);
    expect(job?.counts.rewrapped).toBe(ROWS - failed);
  });

  it('a turn that lost the record to another writer counts nothing twice', async () => {
    const { rewrap, vault, id } = await completed(ROWS, FILES);
    await rewrap.status({ arn: OPERATOR }, id);
    // Another worker's turn lands between this turn's read of the record and its save.
    const write = vault.write.bind(vault);
    let raced = false;
    vault.write = async (key, text, options) => {
      if (!raced && key === `jobs/${id}.json` && options.ifMatch) {
        raced = true;
        await rewrap.run(id);
      }
      return write(key, text, options);
    };
    await rewrap.run(id);
    vault.write = write;
    await rewrap.tick();
    expect(raced).toBe(true);
    expect((await rewrap.load(id))?.job.counts.scanned).toBe(ROWS);
  });

  it('rows with quoted line breaks, CRLF, no final line feed; a row too long counts as report-unreadable', async () => {
    const { rewrap, reports, id } = await completed(1, 1, { bytes: 10, ms: 60_000 });
    const fake = (await rewrap.load(id))?.job.batch?.jobId ?? '';
    const base = `reports/job-${fake}`;
    const csv = [
      'eaas-vault,tenant-a%2Fhr%2Fa,,failed,200,PermanentFailure,"Lambda returned function error: {""errorMessage"":""line one',
      'line two""}"',
      'eaas-vault,tenant-a%2Fhr%2Fb,,succeeded,200,,"rewrapped"',
      `eaas-vault,tenant-a%2Fhr%2F${'x'.repeat(70_000)},,succeeded,200,,"rewrapped"`,
      'eaas-vault,tenant-a%2Fhr%2Fc,,succeeded,200,,"already re-wrapped"',
    ].join('\r\n');
    await reports.write(`${base}/results/r.csv`, csv, { contentType: 'text/csv' });
    await reports.write(
      `${base}/manifest.json`,
      JSON.stringify({ Results: [{ Key: `${base}/results/r.csv` }] }),
      { contentType: 'application/json' },
    );
    await rewrap.status({ arn: OPERATOR }, id);
    await rewrap.tick();
    const job = (await rewrap.load(id))?.job;
    expect(job?.counts).toEqual({
      scanned: 4,
      rewrapped: 1,
      alreadyCurrent: 1,
      skipped: {},
      failed: { 'function-error': 1, 'report-unreadable': 1 },
    });
    expect(job?.failures[0]?.key).toBe('hr/a');
  });
});

describe("S3's progress summary, and cancel when S3 cannot be read", () => {
  async function batchJob() {
    const s = await setup();
    const view = await s.rewrap.start({ arn: OPERATOR }, { ...s.input, engine: 'batch' });
    return { ...s, id: view.id, fake: s.batchJobs.jobFor(view.id) };
  }

  it('a Complete job without a progress summary (no total) has its report read: its failures are not hidden', async () => {
    const { rewrap, reports, id, fake } = await batchJob();
    // As the adapter reads a DescribeJob without ProgressSummary: no total, 0 and 0.
    fake.status = 'Complete';
    const base = `reports/job-${fake.id}`;
    await reports.write(
      `${base}/results/f.csv`,
      'eaas-vault,tenant-a%2Fhr%2Fx,,failed,200,PermanentFailure,"failed: too-large-to-copy"\n',
      { contentType: 'text/csv' },
    );
    await reports.write(
      `${base}/manifest.json`,
      JSON.stringify({ Results: [{ Key: `${base}/results/f.csv` }] }),
      { contentType: 'application/json' },
    );
    await rewrap.status({ arn: OPERATOR }, id);
    await rewrap.tick();
    expect((await rewrap.status({ arn: OPERATOR }, id)).state).toBe('completed-with-failures');
    expect((await rewrap.load(id))?.job.counts.failed).toEqual({ 'too-large-to-copy': 1 });
  });

  it('no progress summary and no report: completed-with-failures (report-unreadable), never a silent success', async () => {
    const { rewrap, id, fake } = await batchJob();
    fake.status = 'Complete';
    await rewrap.status({ arn: OPERATOR }, id);
    await rewrap.tick();
    expect((await rewrap.status({ arn: OPERATOR }, id)).state).toBe('completed-with-failures');
    expect((await rewrap.load(id))?.job.counts.failed).toEqual({ 'report-unreadable': 1 });
  });

  it('cancel refuses with 502 DependencyFailure when DescribeJob fails: a job S3 may have completed is not cancelled on a guess', async () => {
    const { rewrap, id, fake, batchJobs } = await batchJob();
    fake.status = 'Complete';
    fake.total = 2;
    fake.succeeded = 2;
    batchJobs.describe = async () => {
      throw new DomainError('DependencyFailure', 'S3 Control unreachable');
    };
    let asked = 0;
    batchJobs.cancel = async () => {
      asked++;
    };
    const refused = await rewrap.cancel({ arn: OPERATOR }, id).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'DependencyFailure' });
    // The answer names no engine (which one `auto` picked says how many documents there are).
    expect((refused as Error).message).not.toMatch(/S3|batch/i);
    expect(asked).toBe(0);
    const record = (await rewrap.load(id))?.job;
    expect(record?.phase).not.toBe('cancelled');
    // GET still answers, as last read.
    expect((await rewrap.status({ arn: OPERATOR }, id)).state).toBe('pending');
  });

  it('a cancel that keeps losing the record to other writers is 409 ConcurrentModification (retry), not InvalidState', async () => {
    const { rewrap, vault, input } = await setup();
    const view = await rewrap.start({ arn: OPERATOR }, { ...input, engine: 'scheduled' });
    const write = vault.write.bind(vault);
    vault.write = async (key, text, options) => {
      // Another writer lands first, every time.
      if (key === `jobs/${view.id}.json` && options.ifMatch) {
        const current = vault.objects.get(key);
        if (current) await write(key, current.text, { contentType: 'application/json' });
      }
      return write(key, text, options);
    };
    await expect(rewrap.cancel({ arn: OPERATOR }, view.id)).rejects.toMatchObject({
      code: 'ConcurrentModification',
    });
    vault.write = write;
    expect((await rewrap.cancel({ arn: OPERATOR }, view.id)).state).toBe('cancelled');
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
