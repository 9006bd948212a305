import { DomainError } from '../core/errors.js';
import { isDocumentKey } from '../core/reserved-keys.js';
import {
  countTask,
  decodeTaskKey,
  failureReason,
  JOB_ARGUMENT,
  phaseOfStatus,
  type ReportManifest,
  type ReportRow,
  streamReportRows,
} from '../core/rewrap-batch.js';
import {
  emptyCounts,
  FINISHED,
  type JobRecord,
  MAX_REPORTED_FAILURES,
  type ReportCursor,
} from '../core/rewrap-job.js';
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
  /**
   * One tick's turn at counting a completion report: at most this many bytes of results files,
   * or this long, before the count so far is saved and the turn ends (another follows).
   */
  reportTurn?: { bytes: number; ms: number } | undefined;
}

/**
 * A turn of counting a completion report, by default: 16 MiB (about 200,000 rows) or 3 seconds,
 * whichever comes first, so that a turn stays well inside the jobs function's 25 seconds and
 * other jobs get theirs in the same tick.
 */
const REPORT_TURN = { bytes: 16 * 1024 * 1024, ms: 3000 };

/**
 * A job of at most this many tasks (S3's total) has its report counted by the request that finds
 * it complete, within INLINE_TURN, so that a small campaign's view is finished at once rather than
 * at the next tick (minutes): a few thousand rows are at most a few MiB even with the longest keys.
 * A larger report is the tick's alone. A turn that does not finish saves its cursor as the tick's.
 */
const INLINE_REPORT_TASKS = 2000;
const INLINE_TURN = { bytes: 4 * 1024 * 1024, ms: 2000 };

/** How a refresh may go: a view only reads S3's status; the tick also counts the report. */
export interface RefreshMode {
  /** Count (a turn of) the completion report of a completed job; until `stop()` says time is up. */
  count?: { stop: () => boolean } | undefined;
}

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
   * failed) as the record's `total` and `scanned` while it runs. A job S3 failed or cancelled
   * keeps S3's progress only. A job S3 completed is finished once its completion report is
   * counted (`countReport`: rewrapped, alreadyCurrent, skipped and failed by reason, as a
   * scheduled job counts them; so the view's one bit, completed-with-failures, follows the same
   * rule as the scheduled engine's); until then it stays `scanning` (the view: `running`), with
   * `batch.status` Complete, and S3 is not asked again. The tick counts (`mode.count`): a report
   * may be millions of rows, which no API request reads; a request counts only a small one
   * (INLINE_REPORT_TASKS). A finished job leaves the
   * unfinished index. Answers the record as saved (or as it was when S3 could not say), and
   * whether its report has more to count.
   */
  async refresh(
    found: { job: JobRecord; etag: string },
    mode: RefreshMode = {},
  ): Promise<{ job: JobRecord; etag: string; counting?: boolean }> {
    if (FINISHED.has(found.job.phase)) return found;
    if (!found.job.batch?.jobId) return this.submit(found);
    if (found.job.batch.status === 'Complete') return this.countNow(found, mode);
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
      if (tasks.total === 0) {
        // A job that ran no task (nothing under the prefix) has no report to read: S3 writes
        // none, and reading its absent manifest is refused (403, not 404: the job's role may not
        // list the reports bucket). Only S3's own total says so: a progress summary S3 left out
        // (no total) is no proof that nothing ran, and the report is counted then.
        job.phase = 'succeeded';
        job.total = 0;
      } else {
        job.phase = 'scanning';
        job.batch.report = {
          manifest: this.manifestKey(described.report ?? this.settings.report, s3JobId),
          file: 0,
          offset: 0,
          counts: emptyCounts(),
          failures: [],
        };
      }
    } else job.phase = phase;
    if (job.phase === found.job.phase && JSON.stringify(job.batch) === JSON.stringify(found.job.batch))
      return found;
    if (FINISHED.has(job.phase)) job.finishedAt = this.now().toISOString();
    const saved = await this.save(found, job);
    if (FINISHED.has(saved.job.phase)) await this.records.finished(saved.job);
    if (saved.job.batch?.status === 'Complete' && !FINISHED.has(saved.job.phase))
      return this.countNow(saved, mode);
    return saved;
  }

  /** A turn of counting: the tick's (`mode.count`), or a request's when the report is small. */
  private countNow(
    found: { job: JobRecord; etag: string },
    mode: RefreshMode,
  ): Promise<{ job: JobRecord; etag: string; counting?: boolean }> | { job: JobRecord; etag: string } {
    if (mode.count) return this.countTurn(found, mode.count.stop);
    const total = found.job.batch?.tasks?.total;
    if (total !== undefined && total <= INLINE_REPORT_TASKS)
      return this.countTurn(found, () => false, INLINE_TURN);
    return found;
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

  /** Where S3 writes a job's completion report: `<prefix>/job-<id>/manifest.json`, listing its results files. */
  private manifestKey(report: { prefix: string }, s3JobId: string): string {
    const base = report.prefix.replace(/\/$/, '');
    return `${base ? `${base}/` : ''}job-${s3JobId}/manifest.json`;
  }

  /**
   * One turn of counting the completion report into the record, with the scheduled engine's
   * meaning (`countTask`: every task's final result string), and up to 100 failed keys with their
   * reason (`failureReason`), for the operators. The results files are read streamed, row by
   * row, from where the last turn saved its cursor (`batch.report`: the file, the byte after the
   * last row counted, the counts so far), every file the manifest lists, until this turn's
   * budget (`reportTurn`) or `stop()`; the counts and the cursor are then saved together
   * (If-Match: a turn that lost the race to another counted nothing). Once every file is
   * counted, the job finishes: the record's `total` becomes the objects counted, as a scheduled
   * job's is the objects it listed (S3's task total, instruction files included, stays in
   * `batch.tasks`). A report that cannot be read (no manifest, or not JSON) counts the failed
   * tasks S3 reported (at least one when S3 gave no total) as `report-unreadable`. The report's
   * format: https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-examples-reports.html
   */
  private async countTurn(
    found: { job: JobRecord; etag: string },
    stop: () => boolean,
    turn?: { bytes: number; ms: number },
  ): Promise<{ job: JobRecord; etag: string; counting?: boolean }> {
    const job: JobRecord = structuredClone(found.job);
    const batch = job.batch ?? {};
    const cursor =
      batch.report ??
      ({
        manifest: this.manifestKey(this.settings.report, batch.jobId ?? ''),
        file: 0,
        offset: 0,
        counts: emptyCounts(),
        failures: [],
      } satisfies ReportCursor);
    const reports = this.settings.reports;
    const manifest = await withRetry(() => reports.read(cursor.manifest), this.settings.retry);
    const files = manifest && resultsFiles(manifest.text);
    if (!files) {
      const failedTasks = batch.tasks?.failed ?? 0;
      const unknown = batch.tasks?.total === undefined ? Math.max(1, failedTasks) : failedTasks;
      this.log('re-encryption batch job report unreadable', { jobId: job.id, batchJobId: batch.jobId });
      return this.finishCount(found, job, {
        ...cursor,
        counts: { ...emptyCounts(), failed: unknown > 0 ? { 'report-unreadable': unknown } : {} },
        failures: [],
      });
    }
    const budget = turn ?? this.settings.reportTurn ?? REPORT_TURN;
    const started = Date.now();
    let bytes = 0;
    const spent = () => bytes >= budget.bytes || Date.now() - started >= budget.ms || stop();
    while (cursor.file < files.length && !spent()) {
      const key = files[cursor.file] as string;
      const body = await withRetry(() => reports.readFrom(key, cursor.offset), this.settings.retry);
      if (!body)
        throw new DomainError('DependencyFailure', 'A results file of the completion report is missing.');
      let whole = true;
      for await (const line of streamReportRows(body, cursor.offset)) {
        for (const row of line.rows ?? [UNREADABLE_ROW]) this.countRow(cursor, row);
        bytes += line.end - cursor.offset;
        cursor.offset = line.end;
        if (spent()) {
          // Leaving the loop ends the body's stream: the rest is read from here next turn.
          whole = false;
          break;
        }
      }
      if (!whole) break;
      cursor.file += 1;
      cursor.offset = 0;
    }
    if (cursor.file >= files.length) return this.finishCount(found, job, cursor);
    if (bytes === 0) return found;
    job.batch = { ...batch, report: cursor };
    this.log('re-encryption batch job report counted in part', {
      jobId: job.id,
      file: cursor.file,
      files: files.length,
      offset: cursor.offset,
      scanned: cursor.counts.scanned,
    });
    const saved = await this.save(found, job);
    return { ...saved, counting: saved.job === job };
  }

  /** One row of the report into the count so far. */
  private countRow(cursor: ReportCursor, row: ReportRow): void {
    countTask(cursor.counts, row);
    if (row.taskStatus !== 'succeeded' && cursor.failures.length < MAX_REPORTED_FAILURES)
      cursor.failures.push({ key: this.documentKeyOf(row.key), reason: failureReason(row.resultMessage) });
  }

  /** The report counted: the job finishes with its counts, and leaves the unfinished index. */
  private async finishCount(
    found: { job: JobRecord; etag: string },
    job: JobRecord,
    cursor: ReportCursor,
  ): Promise<{ job: JobRecord; etag: string }> {
    job.counts = cursor.counts;
    job.failures = cursor.failures;
    job.total = cursor.counts.scanned;
    job.phase = Object.keys(job.counts.failed).length > 0 ? 'completed-with-failures' : 'succeeded';
    job.finishedAt = this.now().toISOString();
    if (job.batch) delete job.batch.report;
    const saved = await this.save(found, job);
    if (FINISHED.has(saved.job.phase)) await this.records.finished(saved.job);
    return saved;
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

/** A row too long to be one S3 wrote (dropped unparsed): a task of unknown outcome, counted failed. */
const UNREADABLE_ROW: ReportRow = {
  key: '',
  taskStatus: 'failed',
  resultMessage: 'failed: report-unreadable',
};

/** The results files a report's manifest.json lists, in its order; undefined when it is no manifest. */
function resultsFiles(text: string): string[] | undefined {
  try {
    const parsed = JSON.parse(text) as ReportManifest;
    return (parsed.Results ?? []).flatMap((r) => (r.Key ? [r.Key] : []));
  } catch {
    return undefined;
  }
}
