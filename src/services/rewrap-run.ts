import { randomUUID } from 'node:crypto';
import { DomainError } from '../core/errors.js';
import { isDocumentKey } from '../core/reserved-keys.js';
import {
  bump,
  FINISHED,
  type JobRecord,
  leaseAvailable,
  MAX_DEFERRED,
  MAX_REPORTED_FAILURES,
  percentOf,
} from '../core/rewrap-job.js';
import type { JobObjects, Keys } from '../ports.js';
import type { AccessControl } from './access.js';
import { jobAuthority } from './rewrap-authority.js';
import { type ObjectOutcome, rewrapObject } from './rewrap-object.js';
import type { JobRecords } from './rewrap-records.js';
import { RateLimiter, type RetryOptions, withRetry } from './rewrap-retry.js';

export interface RunOptions {
  /** Objects per page (one persisted step). */
  pageSize?: number;
  /** How long a worker holds a job between two writes of its record. */
  leaseMs?: number;
  /** Ceiling on KMS requests a second, per worker (0: none). */
  kmsPerSecond?: number;
  retry?: RetryOptions;
  now?: () => Date;
  /** This worker's name in leases; random by default. */
  worker?: string;
  /** A progress line per page; never a secret. */
  log?: (message: string, fields: Record<string, unknown>) => void;
  /** Told of each document whose data key this worker re-wrapped (a metric). */
  onRewrapped?: (count: number) => void;
  /**
   * Test hook: called after each durable step (`lease-taken`, `re-encrypted`, `instruction-written`,
   * `metadata-copied`, `page-saved`) with the object key where there is one; may throw (a crash).
   */
  step?: (name: string, key?: string) => void | Promise<void>;
  /**
   * A batch job's turn in a tick: S3 Batch Operations runs it, so the runner only has its
   * progress read back and, once S3 completed it, a bounded part of its report counted
   * (`RewrapService`); never leased, never paged here. Answers the record when its report has
   * more to count (the tick gives it another turn), else undefined.
   */
  batchTurn?: (
    found: { job: JobRecord; etag: string },
    stop: () => boolean,
  ) => Promise<JobRecord | undefined>;
}

const COUNT_PAGE = 1000;

/**
 * The run loop of re-encryption jobs. A worker takes a job with a lease (a conditional write of
 * its record with an expiry), does one page, and writes the record again with the new cursor and
 * counts (If-Match its own last write, which also renews the lease): a worker that lost its lease
 * finds out at that write and stops, and a job cut off anywhere resumes from its last page on the
 * next tick.
 */
export class JobRunner {
  private readonly pageSize: number;
  private readonly leaseMs: number;
  private readonly limiter: RateLimiter;
  private readonly now: () => Date;
  readonly worker: string;

  constructor(
    private readonly keys: Keys,
    private readonly access: Pick<AccessControl, 'policyDecisions'>,
    /** The documents, keys relative to the service's object prefix. */
    private readonly objects: JobObjects,
    private readonly records: JobRecords,
    private readonly options: RunOptions = {},
  ) {
    this.pageSize = options.pageSize ?? 100;
    this.leaseMs = options.leaseMs ?? 5 * 60_000;
    this.limiter = new RateLimiter(options.kmsPerSecond ?? 0);
    this.now = options.now ?? (() => new Date());
    this.worker = options.worker ?? `worker-${randomUUID()}`;
  }

  /**
   * One tick of the schedule, until `stop()` says time is up: the unfinished jobs take turns of
   * one page each, round after round, so that no job (however large, whoever started it) waits
   * for another to finish. A lone job runs on without turns.
   */
  async tick(stop: () => boolean = () => false): Promise<string[]> {
    const ran = new Set<string>();
    let round = await this.records.unfinished();
    while (round.length > 0 && !stop()) {
      const next: string[] = [];
      const pages = round.length > 1 ? 1 : Number.POSITIVE_INFINITY;
      for (const id of round) {
        if (stop()) {
          next.push(id);
          continue;
        }
        try {
          const job = await this.run(id, stop, pages);
          if (!job) continue;
          ran.add(id);
          // A scheduled job this worker holds, or a batch job whose report has more to count.
          if (!FINISHED.has(job.phase) && (job.lease || job.engine === 'batch')) next.push(id);
        } catch (error) {
          // One job failing again and again (a prefix S3 refuses, an outage) must not starve the
          // others: it is logged and retried on the next tick, its lease expiring meanwhile.
          const code = error instanceof DomainError ? error.code : 'InternalError';
          this.log('re-encryption job turn failed', { jobId: id, worker: this.worker, error: code });
        }
      }
      round = next;
    }
    // Time is up: the jobs this worker still holds are let go, for the next tick (any worker).
    for (const id of round.filter((r) => ran.has(r))) await this.run(id, () => true).catch(() => undefined);
    return [...ran];
  }

  /**
   * Works on one job until it is finished, `stop()` says time is up, or its lease is lost.
   * Answers the record as last saved, or undefined when another worker holds the job. A batch
   * job gets one turn of `batchTurn`, and is answered only when it wants another.
   */
  async run(
    id: string,
    stop: () => boolean = () => false,
    /** Pages of this turn; the lease is kept after them (the caller gives the next turn). */
    pages = Number.POSITIVE_INFINITY,
  ): Promise<JobRecord | undefined> {
    const found = await this.records.load(id);
    if (found?.job.engine === 'batch') {
      if (FINISHED.has(found.job.phase) || stop()) return undefined;
      return this.options.batchTurn?.(found, stop);
    }
    if (!found || !leaseAvailable(found.job, this.worker, this.now())) return undefined;
    let { job, etag } = found;
    job.startedAt ??= this.now().toISOString();
    if (job.phase === 'pending') job.phase = 'counting';
    const saved = await this.save(job, etag);
    if (!saved) return undefined;
    etag = saved;
    await this.step('lease-taken');
    for (let done = 0; !FINISHED.has(job.phase) && done < pages; done++) {
      // Precondition of a page: the record is still as this worker last wrote it (its lease holds).
      const fresh = await this.records.load(id);
      if (fresh?.etag !== etag) return undefined;
      if (stop()) {
        // Let the next tick (any worker) take it at once.
        job.lease = undefined;
        await this.save(job, etag, false);
        return job;
      }
      const next = await this.page(job);
      const written = await this.save(next, etag);
      if (!written) return this.keepCancelledPage(job, next);
      job = next;
      etag = written;
      await this.step('page-saved');
      if (FINISHED.has(job.phase)) await this.records.finished(job);
    }
    return job;
  }

  /**
   * The record changed under this page: if it was cancelled (`rewrap-cancel.ts`) while the page
   * ran, the page's objects are done, so its counts and cursor go into the cancelled record
   * (If-Match: a cancel of the record as this worker last wrote it, the same pages done). The job
   * stays cancelled; another worker that took the job is left alone. Answers undefined: the
   * worker stops.
   */
  private async keepCancelledPage(before: JobRecord, page: JobRecord): Promise<undefined> {
    const fresh = await this.records.load(before.id);
    if (fresh?.job.phase !== 'cancelled' || fresh.job.pages !== before.pages) return undefined;
    const job: JobRecord = {
      ...page,
      phase: 'cancelled',
      lease: undefined,
      finishedAt: fresh.job.finishedAt,
      updatedAt: this.now().toISOString(),
    };
    // A lost race leaves the cancelled record as it is, without this page's counts.
    await this.records.replace(job, fresh.etag);
    this.log('re-encryption job cancelled during a page: its counts kept', {
      jobId: job.id,
      worker: this.worker,
    });
    return undefined;
  }

  /** Writes the record If-Match `etag`, renewing this worker's lease; undefined when another took it. */
  private async save(job: JobRecord, etag: string, keepLease = true): Promise<string | undefined> {
    const now = this.now();
    job.updatedAt = now.toISOString();
    job.lease =
      keepLease && !FINISHED.has(job.phase)
        ? { owner: this.worker, expiresAt: new Date(now.getTime() + this.leaseMs).toISOString() }
        : undefined;
    const written = await this.records.replace(job, etag);
    if (written === undefined)
      this.log('re-encryption job taken by another worker', { jobId: job.id, worker: this.worker });
    return written;
  }

  /** One page of the job's current phase, on a copy of the record. */
  private async page(current: JobRecord): Promise<JobRecord> {
    const job: JobRecord = structuredClone(current);
    job.pages += 1;
    if (job.phase === 'counting') {
      const page = await this.call(false, () =>
        this.objects.listAfter(job.spec.prefix, job.cursor, COUNT_PAGE),
      );
      job.total = (job.total ?? 0) + page.keys.filter(isDocumentKey).length;
      job.cursor = page.keys.at(-1) ?? job.cursor;
      if (!page.truncated) {
        job.phase = 'scanning';
        job.cursor = undefined;
      }
      this.progress(job);
      return job;
    }
    if (job.phase === 'scanning') {
      const page = await this.call(false, () =>
        this.objects.listAfter(job.spec.prefix, job.cursor, this.pageSize),
      );
      await this.each(job, page.keys.filter(isDocumentKey), false);
      job.cursor = page.keys.at(-1) ?? job.cursor;
      if (!page.truncated) job.phase = job.deferred.length > 0 ? 'retrying' : 'succeeded';
    } else if (job.phase === 'retrying') {
      const keys = job.deferred.splice(0, this.pageSize);
      await this.each(job, keys, true);
      if (job.deferred.length === 0) job.phase = 'succeeded';
    }
    if (job.phase === 'succeeded') {
      if (Object.keys(job.counts.failed).length > 0) job.phase = 'completed-with-failures';
      job.finishedAt = this.now().toISOString();
    }
    this.progress(job);
    return job;
  }

  /** Re-wraps the keys with the job's concurrency and adds their outcomes to its counts. */
  private async each(job: JobRecord, keys: string[], retrying: boolean): Promise<void> {
    const outcomes = new Array<ObjectOutcome>(keys.length);
    let next = 0;
    const call = <T>(kms: boolean, fn: () => Promise<T>) => this.call(kms, fn);
    const deps = {
      keys: this.keys,
      objects: this.objects,
      now: this.now,
      call,
      step: (name: string, key?: string) => this.step(name, key),
      authorized:
        keys.length > 0
          ? await jobAuthority(this.access, job, call, (message, fields) => this.log(message, fields))
          : () => false,
    };
    const workers = Array.from({ length: Math.min(job.spec.concurrency, keys.length) }, async () => {
      while (next < keys.length) {
        const i = next++;
        outcomes[i] = await rewrapObject(deps, job.spec, keys[i] as string);
      }
    });
    // Every worker ends before a failure is passed on: nothing of this page runs after it.
    const settled = await Promise.allSettled(workers);
    for (const s of settled) if (s.status === 'rejected') throw s.reason;
    for (const [i, key] of keys.entries()) this.count(job, key, outcomes[i] as ObjectOutcome, retrying);
  }

  /** Adds one object's outcome to the job's counts. */
  private count(job: JobRecord, key: string, outcome: ObjectOutcome, retrying: boolean): void {
    if (!retrying) job.counts.scanned += 1;
    switch (outcome.kind) {
      case 'rewrapped':
        job.counts.rewrapped += 1;
        this.options.onRewrapped?.(1);
        break;
      case 'alreadyCurrent':
        job.counts.alreadyCurrent += 1;
        break;
      case 'skipped':
        bump(job.counts.skipped, outcome.reason);
        break;
      case 'deferred':
        if (!retrying && job.deferred.length < MAX_DEFERRED) {
          job.deferred.push(key);
          break;
        }
        this.fail(job, key, 'conflict');
        break;
      case 'failed':
        this.fail(job, key, outcome.reason);
        break;
    }
  }

  private fail(job: JobRecord, key: string, reason: string): void {
    bump(job.counts.failed, reason);
    if (job.failures.length < MAX_REPORTED_FAILURES) job.failures.push({ key, reason });
  }

  /** A KMS or S3 call: under the KMS rate ceiling, retried with backoff when throttled or failing. */
  private call<T>(kms: boolean, fn: () => Promise<T>): Promise<T> {
    return withRetry(async () => {
      if (kms) await this.limiter.acquire();
      return fn();
    }, this.options.retry);
  }

  private async step(name: string, key?: string): Promise<void> {
    await this.options.step?.(name, key);
  }

  private log(message: string, fields: Record<string, unknown>): void {
    this.options.log?.(message, fields);
  }

  /**
   * The operator's log line of a page: the record's own counts (every reason), deferred objects,
   * cursor and total. It is the operators' place for the counts: no API answer shows them (names
   * and counts stay out of the job view).
   */
  private progress(job: JobRecord): void {
    const percent = percentOf(job);
    this.log('re-encryption job page', {
      jobId: job.id,
      worker: this.worker,
      phase: job.phase,
      page: job.pages,
      cursor: job.cursor,
      scanned: job.counts.scanned,
      rewrapped: job.counts.rewrapped,
      alreadyCurrent: job.counts.alreadyCurrent,
      skipped: { ...job.counts.skipped },
      failed: { ...job.counts.failed },
      deferred: job.deferred.length,
      ...(percent !== undefined ? { percent } : {}),
      ...(job.total !== undefined ? { total: job.total } : {}),
    });
  }
}
