import { encodeTaskKey, type S3BatchEventV2, type S3BatchResultV2 } from '../../src/core/rewrap-batch.js';
import type {
  BatchJobDescription,
  BatchJobRequest,
  BatchJobStatus,
  BatchJobs,
  JobObjects,
} from '../../src/ports.js';

interface FakeJob {
  id: string;
  request: BatchJobRequest;
  status: BatchJobStatus;
  total?: number;
  succeeded: number;
  failed: number;
}

export interface RunOptions {
  /** Invocations of one task in all before S3 counts a TemporaryFailure as failed (AWS retries them). */
  attempts?: number;
  /** Invoke every task twice (S3 may). */
  twice?: boolean;
  /** Called before each task's invocations; may cancel the job. */
  beforeTask?: (key: string, index: number) => void | Promise<void>;
}

/**
 * S3 Batch Operations in memory, for unit and integration tests of the batch engine (the local
 * emulator is another piece): CreateJob idempotent on its token, DescribeJob's status and progress,
 * UpdateJobStatus Cancelled, and `run`, which does what S3 does with a LambdaInvoke job: the
 * manifest from a listing of the bucket under the generator's prefix, the function invoked per
 * task (schema 2.0, URL-encoded keys), TemporaryFailure retried, and the completion report (a
 * manifest.json and CSV results files) written under `<prefix>/job-<id>/`.
 */
export class MemoryBatchJobs implements BatchJobs {
  readonly jobs = new Map<string, FakeJob>();
  private readonly byToken = new Map<string, string>();
  private n = 0;
  creates = 0;

  constructor(
    /** The bucket the manifest generator lists, from its root. */
    private readonly bucket: JobObjects,
    /** The report bucket, from its root. */
    private readonly reports: JobObjects,
  ) {}

  async create(request: BatchJobRequest) {
    this.creates++;
    const known = this.byToken.get(request.clientRequestToken);
    if (known) return { jobId: known };
    const id = `s3job-${++this.n}`;
    this.jobs.set(id, { id, request, status: 'Ready', succeeded: 0, failed: 0 });
    this.byToken.set(request.clientRequestToken, id);
    return { jobId: id };
  }

  async describe(jobId: string): Promise<BatchJobDescription | undefined> {
    const job = this.jobs.get(jobId);
    return (
      job && {
        status: job.status,
        tasks: {
          ...(job.total !== undefined ? { total: job.total } : {}),
          succeeded: job.succeeded,
          failed: job.failed,
        },
        report: job.request.report,
      }
    );
  }

  async cancel(jobId: string) {
    const job = this.jobs.get(jobId);
    if (job) job.status = 'Cancelled';
  }

  /** The S3 job made for an eaas job id. */
  jobFor(eaasJobId: string): FakeJob {
    const id = this.byToken.get(eaasJobId);
    const job = id && this.jobs.get(id);
    if (!job) throw new Error(`no batch job for ${eaasJobId}`);
    return job;
  }

  /** Runs the job to its end through `invoke` (the function's handler). */
  async run(
    eaasJobId: string,
    invoke: (event: S3BatchEventV2) => Promise<S3BatchResultV2>,
    options: RunOptions = {},
  ): Promise<FakeJob> {
    const job = this.jobFor(eaasJobId);
    job.status = 'Active';
    const keys: string[] = [];
    for (let cursor: string | undefined, more = true; more; ) {
      const page = await this.bucket.listAfter(job.request.manifest.prefix, cursor, 1000);
      keys.push(...page.keys);
      cursor = page.keys.at(-1);
      more = page.truncated;
    }
    job.total = keys.length;
    const rows: { key: string; status: 'succeeded' | 'failed'; message: string }[] = [];
    let invocation = 0;
    for (const [i, key] of keys.entries()) {
      await options.beforeTask?.(key, i);
      if (job.status !== 'Active') break;
      let final: { status: 'succeeded' | 'failed'; message: string } | undefined;
      for (let attempt = 1; !final; attempt++) {
        const event: S3BatchEventV2 = {
          invocationSchemaVersion: '2.0',
          invocationId: `inv-${++invocation}`,
          job: { id: job.id, userArguments: job.request.userArguments },
          tasks: [
            {
              taskId: `task-${i}`,
              s3Bucket: job.request.manifest.bucket,
              s3Key: encodeTaskKey(key),
              s3VersionId: null,
            },
          ],
        };
        let result = (await invoke(event)).results[0];
        if (options.twice && result?.resultCode !== 'TemporaryFailure')
          result = (await invoke(event)).results[0];
        if (!result) throw new Error('no result for the task');
        if (result.resultCode === 'Succeeded') final = { status: 'succeeded', message: result.resultString };
        else if (result.resultCode === 'PermanentFailure' || attempt >= (options.attempts ?? 5))
          final = { status: 'failed', message: result.resultString };
      }
      rows.push({ key, ...final });
      if (final.status === 'succeeded') job.succeeded++;
      else job.failed++;
    }
    await this.writeReport(job, rows);
    if (job.status === 'Active') job.status = 'Complete';
    return job;
  }

  private async writeReport(
    job: FakeJob,
    rows: { key: string; status: 'succeeded' | 'failed'; message: string }[],
  ): Promise<void> {
    const base = `${job.request.report.prefix.replace(/\/$/, '')}/job-${job.id}`;
    const quote = (v: string) => `"${v.replace(/"/g, '""')}"`;
    const results = [];
    for (const status of ['succeeded', 'failed'] as const) {
      const mine = rows.filter((r) => r.status === status);
      if (mine.length === 0) continue;
      const key = `${base}/results/${status}.csv`;
      const csv = mine
        .map((r) =>
          [
            job.request.manifest.bucket,
            encodeTaskKey(r.key),
            '',
            status,
            '200',
            status === 'failed' ? 'PermanentFailure' : 'Succeeded',
            quote(r.message),
          ].join(','),
        )
        .join('\n');
      await this.reports.write(key, `${csv}\n`, { contentType: 'text/csv' });
      results.push({ TaskExecutionStatus: status, Bucket: job.request.report.bucket, Key: key });
    }
    await this.reports.write(
      `${base}/manifest.json`,
      JSON.stringify({
        Format: 'Report_CSV_20180820',
        Results: results,
        ReportSchema: 'Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage',
      }),
      { contentType: 'application/json' },
    );
  }
}
