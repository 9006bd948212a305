import { DomainError } from '../core/errors.js';
import { isDocumentKey } from '../core/reserved-keys.js';
import {
  countTask,
  decodeTaskKey,
  failureReason,
  JOB_ARGUMENT,
  parseReportCsv,
  phaseOfStatus,
  type ReportManifest,
} from '../core/rewrap-batch.js';
import { emptyCounts, FINISHED, type JobRecord, MAX_REPORTED_FAILURES } from '../core/rewrap-job.js';
import type { BatchJobs, JobObjects } from '../ports.js';
import type { JobRecords } from './rewrap-records.js';
import { type RetryOptions, withRetry } from './rewrap-retry.js';

/** Where the batch engine is deployed: its function, the role S3 assumes, the report's place. */
export interface BatchEngineSettings {
  jobs: BatchJobs;
  /** The per-object function S3 Batch Operations invokes. */
  functionArn: string;
  /** The role S3 Batch Operations assumes. */
  roleArn: string;
  /** The vault bucket the manifest generator lists, and the object prefix in front of documents. */
  vaultBucket: string;
  objectPrefix: string;
  /** The completion reports (and generated manifests): bucket, and the prefix under it. */
  report: { bucket: string; prefix: string };
  /** The report bucket as the job's reading of the report sees it (keys from its root). */
  reports: JobObjects;
  /** S3 Batch Operations job priority. */
  priority: number;
  /** `auto` picks batch for a prefix with at least this many documents (under any key). */
  threshold: number;
  retry?: RetryOptions | undefined;
}

/**
 * The most results files of a completion report read back into the record. Each is read whole:
 * AWS splits a large report into many files, and a report of more files than this counts the
 * tasks of the first ones only (docs/jobs.md).
 */
const MAX_REPORT_FILES = 100;

/**
 * The service side of the batch engine: it hands a job to S3 Batch Operations (CreateJob,
 * idempotent on the job id), reads its progress back into the job record (DescribeJob; the
 * completion report once complete), and cancels it. The per-object function is
 * `rewrap-batch-task.ts`.
 */
export class BatchEngine {
  constructor(
    private readonly settings: BatchEngineSettings,
    private readonly records: JobRecords,
    private readonly now: () => Date,
    private readonly log: (message: string, fields: Record<string, unknown>) => void,
  ) {}

  get threshold(): number {
    return this.settings.threshold;
  }

  /**
   * Counts the documents under the prefix (any key: listing only), stopping at the threshold:
   * whether the job goes to S3 Batch Operations. At most threshold / 1,000 listings.
   */
  async atLeastThreshold(objects: JobObjects, prefix: string): Promise<boolean> {
    let count = 0;
    let cursor: string | undefined;
    for (;;) {
      const page = await withRetry(() => objects.listAfter(prefix, cursor, 1000), this.settings.retry);
      count += page.keys.filter(isDocumentKey).length;
      if (count >= this.settings.threshold) return true;
      if (!page.truncated || page.keys.length === 0) return false;
      cursor = page.keys.at(-1);
    }
  }

  /**
   * Creates the S3 job of a batch record that has none yet, and saves its id. Safe to repeat: the
   * job id is the request token, so a retry after a lost answer finds the same S3 job.
   */
  async submit(found: { job: JobRecord; etag: string }): Promise<{ job: JobRecord; etag: string }> {
    const { job } = found;
    if (job.batch?.jobId) return found;
    const { jobId } = await withRetry(
      () =>
        this.settings.jobs.create({
          clientRequestToken: job.id,
          description: `eaas re-encryption job ${job.id}`,
          priority: this.settings.priority,
          roleArn: this.settings.roleArn,
          functionArn: this.settings.functionArn,
          userArguments: { [JOB_ARGUMENT]: job.id },
          manifest: {
            bucket: this.settings.vaultBucket,
            prefix: `${this.settings.objectPrefix}${job.spec.prefix}`,
          },
          report: { bucket: this.settings.report.bucket, prefix: this.settings.report.prefix },
        }),
      this.settings.retry,
    );
    const next: JobRecord = { ...structuredClone(job), batch: { ...job.batch, jobId } };
    this.log('re-encryption job handed to S3 Batch Operations', { jobId: job.id, batchJobId: jobId });
    const saved = await this.save(found, next);
    // A cancel that landed between the record's read and this save left the record cancelled
    // without the S3 job's id: the cancel could not stop a job it did not know of, and S3 would run
    // every task to "job refused" (paid invocations). The job just made is cancelled here instead.
    // (No later submit makes it again: a finished record is never submitted.)
    if (saved.job.phase === 'cancelled' && !saved.job.batch?.jobId)
      await this.cancel(next).catch((error: unknown) => {
        // Its tasks are still refused (the record is cancelled); the operator may cancel it by id.
        const code = error instanceof DomainError ? error.code : 'InternalError';
        this.log('re-encryption batch job not cancelled in S3: its tasks are refused', {
          jobId: job.id,
          batchJobId: jobId,
          error: code,
        });
      });
    return saved;
  }

  /**
   * Reads the S3 job's status and progress into the record: phase, tasks (total, succeeded,
   * failed) as the record's `total` and `scanned` while it runs, and once complete the counts of
   * the completion report (`readReport`: rewrapped, alreadyCurrent, skipped and failed by reason,
   * as a scheduled job counts them; so the view's one bit, completed-with-failures, follows the
   * same rule as the scheduled engine's). A job S3 failed or cancelled keeps S3's progress only.
   * A finished job leaves the unfinished index. Answers the record as saved (or as it was when S3
   * could not say).
   */
  async refresh(found: { job: JobRecord; etag: string }): Promise<{ job: JobRecord; etag: string }> {
    if (FINISHED.has(found.job.phase)) return found;
    if (!found.job.batch?.jobId) return this.submit(found);
    const s3JobId = found.job.batch.jobId;
    const described = await withRetry(() => this.settings.jobs.describe(s3JobId), this.settings.retry);
    if (!described) {
      this.log('re-encryption batch job unknown to S3', { jobId: found.job.id, batchJobId: s3JobId });
      return found;
    }
    const job: JobRecord = structuredClone(found.job);
    const phase = phaseOfStatus(described.status);
    const { tasks } = described;
    job.batch = { ...job.batch, status: described.status, tasks };
    job.total = tasks.total;
    job.counts.scanned = tasks.succeeded + tasks.failed;
    if (phase !== 'pending') job.startedAt ??= this.now().toISOString();
    if (phase === 'succeeded') {
      // A job that ran no task (nothing under the prefix) has no report to read: S3 writes none,
      // and reading its absent manifest is refused (403, not 404: the job's role may not list the
      // reports bucket), which left such a job pending for ever.
      if (job.counts.scanned === 0) job.total = 0;
      else await this.readReport(job, described.report ?? this.settings.report);
      if (Object.keys(job.counts.failed).length > 0) job.phase = 'completed-with-failures';
      else job.phase = 'succeeded';
    } else job.phase = phase;
    if (job.phase === found.job.phase && JSON.stringify(job.batch) === JSON.stringify(found.job.batch))
      return found;
    if (FINISHED.has(job.phase)) job.finishedAt = this.now().toISOString();
    const saved = await this.save(found, job);
    if (FINISHED.has(saved.job.phase)) await this.records.finished(saved.job);
    return saved;
  }

  /** Asks S3 to cancel the job (UpdateJobStatus Cancelled); the record follows on its next refresh. */
  async cancel(job: JobRecord): Promise<void> {
    const s3JobId = job.batch?.jobId;
    if (!s3JobId) return;
    await withRetry(
      () => this.settings.jobs.cancel(s3JobId, `eaas job ${job.id} cancelled`),
      this.settings.retry,
    );
  }

  /**
   * The completion report read back into the record's counts, with the scheduled engine's meaning
   * (`countTask`: every task's final result string), and up to 100 failed keys with their reason
   * (`failureReason`), for the operators. The record's `total` becomes the objects counted, as a
   * scheduled job's is the objects it listed (S3's task total, instruction files included, stays
   * in `batch.tasks`). Its location: `<prefix>/job-<id>/manifest.json`, listing the results files
   * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-examples-reports.html).
   * A report that cannot be read while S3 counted failed tasks counts them as `report-unreadable`,
   * the other counts as S3's progress left them.
   */
  private async readReport(job: JobRecord, report: { bucket: string; prefix: string }): Promise<void> {
    const s3JobId = job.batch?.jobId ?? '';
    const base = report.prefix.replace(/\/$/, '');
    const manifestKey = `${base ? `${base}/` : ''}job-${s3JobId}/manifest.json`;
    const reports = this.settings.reports;
    const manifest = await withRetry(() => reports.read(manifestKey), this.settings.retry);
    const failedTasks = job.batch?.tasks?.failed ?? 0;
    const unreadable = () => {
      job.counts.failed = failedTasks > 0 ? { 'report-unreadable': failedTasks } : {};
      job.failures = [];
    };
    if (!manifest) return unreadable();
    let parsed: ReportManifest;
    try {
      parsed = JSON.parse(manifest.text) as ReportManifest;
    } catch {
      return unreadable();
    }
    const counts = emptyCounts();
    const failures: JobRecord['failures'] = [];
    const files = (parsed.Results ?? []).filter((r) => r.Key);
    for (const file of files.slice(0, MAX_REPORT_FILES)) {
      const read = await withRetry(() => reports.read(file.Key ?? ''), this.settings.retry);
      if (!read)
        throw new DomainError('DependencyFailure', 'A results file of the completion report is missing.');
      for (const row of parseReportCsv(read.text)) {
        countTask(counts, row);
        if (row.taskStatus === 'failed' && failures.length < MAX_REPORTED_FAILURES)
          failures.push({ key: this.documentKeyOf(row.key), reason: failureReason(row.resultMessage) });
      }
    }
    job.counts = counts;
    job.failures = failures;
    job.total = counts.scanned;
  }

  /** A report's key (URL-encoded as `decodeTaskKey` reads it, behind the object prefix) as the record names documents. */
  private documentKeyOf(encoded: string): string {
    const key = decodeTaskKey(encoded);
    if (key === undefined) return encoded;
    const prefix = this.settings.objectPrefix;
    return key.startsWith(prefix) ? key.slice(prefix.length) : key;
  }

  /** Writes the record If-Match; a lost race reloads it (another refresh wrote the same facts). */
  private async save(
    found: { job: JobRecord; etag: string },
    next: JobRecord,
  ): Promise<{ job: JobRecord; etag: string }> {
    next.updatedAt = this.now().toISOString();
    const etag = await this.records.replace(next, found.etag);
    if (etag !== undefined) return { job: next, etag };
    return (await this.records.load(next.id)) ?? found;
  }
}
