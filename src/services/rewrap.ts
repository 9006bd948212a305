import { randomUUID } from 'node:crypto';
import { type EncryptionContext, isPrincipalArn, normalisePrincipal } from '@eaas/aws-rules';
import { DomainError, ValidationError } from '../core/errors.js';
import { isDocumentKey } from '../core/reserved-keys.js';
import {
  bump,
  FINISHED,
  type JobRecord,
  type JobSpec,
  jobView,
  leaseAvailable,
  MAX_DEFERRED,
  MAX_REPORTED_FAILURES,
  newJobRecord,
  parseJobRecord,
  percentOf,
  SCHEDULED_BY,
  starterMayRewrap,
} from '../core/rewrap-job.js';
import type { AuditDecision, KeyAdmin, Keys, StoredObjectInfo } from '../ports.js';
import { type AccessControl, auditDecision, type Caller } from './access.js';
import type { QuotaCheck, QuotaLedger, Verdict } from './quotas.js';
import { UnfinishedJobIndex } from './rewrap-index.js';
import { type ObjectOutcome, rewrapObject } from './rewrap-object.js';
import { RateLimiter, type RetryOptions, withRetry } from './rewrap-retry.js';

/**
 * Re-encryption jobs: re-wrap the data keys of stored documents onto another key, or onto a key's
 * current material after a rotation, page by page, without reading a document's body.
 *
 * A job is one JSON record under `jobs/` in the vault bucket (outside the documents' key space:
 * object keys under `jobs/` are refused). A worker takes the job with a lease (a conditional
 * write of the record with an expiry), does one page, and writes the record again with the new
 * cursor and counts (If-Match its own last write, which also renews the lease): a worker that lost
 * its lease finds out at that write and stops, and a job cut off anywhere resumes from its last
 * page on the next tick.
 */

/** The key prefix of job records in the vault bucket; document keys may not start with it. */
export const JOBS_PREFIX = 'jobs/';

/** The vault as the job sees it: listings, heads, small conditional reads and writes, metadata copies. */
export interface JobObjects {
  /** Keys under `prefix` after `startAfter`, ascending, at most `limit`. */
  listAfter(
    prefix: string,
    startAfter: string | undefined,
    limit: number,
  ): Promise<{ keys: string[]; truncated: boolean }>;
  head(key: string): Promise<StoredObjectInfo | undefined>;
  /** A small object with its ETag and metadata (instruction files, job records); undefined when absent. */
  read(key: string): Promise<{ text: string; etag: string; metadata: Record<string, string> } | undefined>;
  write(
    key: string,
    text: string,
    options: {
      metadata?: Record<string, string> | undefined;
      contentType: string;
      ifMatch?: string | undefined;
      ifNoneMatch?: '*' | undefined;
    },
  ): Promise<{ etag: string }>;
  /** Replaces an object's metadata by an in-place server-side copy, if its ETag is still `ifMatch`. */
  replaceMetadata(
    key: string,
    metadata: Record<string, string>,
    options: { ifMatch: string; contentType?: string | undefined },
  ): Promise<{ etag: string }>;
}

export interface RewrapOptions {
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
  /**
   * Test hook: called after each durable step (`lease-taken`, `re-encrypted`, `instruction-written`,
   * `metadata-copied`, `page-saved`) with the object key where there is one; may throw (a crash).
   */
  step?: (name: string, key?: string) => void | Promise<void>;
  /** Per-caller quota of unfinished jobs; none when absent. */
  quotas?: QuotaLedger | undefined;
}

export interface StartJob {
  sourceKeyId?: string | undefined;
  olderThanRotation?: boolean | undefined;
  destinationKeyId: string;
  prefix?: string | undefined;
  dryRun?: boolean | undefined;
  concurrency?: number | undefined;
}

export interface JobCaller extends Caller {
  record?: (decision: AuditDecision) => void;
}

const COUNT_PAGE = 1000;

/** Whether a listed key is a document (not an instruction file, not a job or quota record). */

export class RewrapService {
  private readonly pageSize: number;
  private readonly leaseMs: number;
  private readonly limiter: RateLimiter;
  private readonly now: () => Date;
  readonly worker: string;
  /** The jobs not finished yet, which a tick reads instead of every record. */
  private readonly index: UnfinishedJobIndex;

  constructor(
    private readonly keys: Keys,
    private readonly admin: Pick<KeyAdmin, 'describeKey' | 'rotations'>,
    private readonly access: AccessControl,
    /** The documents, keys relative to the service's object prefix. */
    private readonly objects: JobObjects,
    /** The job records, at the root of the vault bucket. */
    private readonly records: JobObjects,
    private readonly options: RewrapOptions = {},
  ) {
    this.pageSize = options.pageSize ?? 100;
    this.leaseMs = options.leaseMs ?? 5 * 60_000;
    this.limiter = new RateLimiter(options.kmsPerSecond ?? 0);
    this.now = options.now ?? (() => new Date());
    this.worker = options.worker ?? `worker-${randomUUID()}`;
    this.index = new UnfinishedJobIndex(
      records,
      JOBS_PREFIX,
      async (id) => {
        const found = await this.load(id);
        return found && { finished: FINISHED.has(found.job.phase), createdAt: found.job.createdAt };
      },
      this.now,
    );
  }

  private recordKey(id: string): string {
    return `${JOBS_PREFIX}${id}.json`;
  }

  /**
   * Precondition of starting a job: the caller administers the destination key and, for a
   * cross-key job, the source key too: the administrator of a key already decides who may read
   * its data, so a job gives no one a power it did not have (a user or grantee of the source may
   * not move its documents). A current-material campaign stays on one key, whose administrator
   * alone may start it (separation of duties keeps administrators from using keys). The same rule
   * is checked again for each object when the job runs (`authority`).
   */
  async start(caller: JobCaller, input: StartJob) {
    // Precondition: the caller is under its quota of unfinished jobs (taken in create()).
    await this.options.quotas?.check(normalisePrincipal(caller.arn), 'jobs', this.jobCheck);
    const rotation = input.olderThanRotation === true;
    if (rotation === (input.sourceKeyId !== undefined))
      throw new ValidationError(
        'Give either sourceKeyId or olderThanRotation: true, not both and not neither.',
      );
    const prefix = input.prefix ?? '';
    if (prefix.startsWith(JOBS_PREFIX))
      throw new ValidationError(`The prefix ${JOBS_PREFIX} holds job records, not documents.`);
    const destinationKeyArn = await this.require(
      caller,
      input.destinationKeyId,
      'kms:PutKeyPolicy',
      'administer',
    );
    let sourceKeyArn = destinationKeyArn;
    let rotatedAt: string | undefined;
    if (rotation) {
      rotatedAt = await this.lastRotation(destinationKeyArn);
    } else {
      sourceKeyArn = await this.require(caller, input.sourceKeyId ?? '', 'kms:PutKeyPolicy', 'administer');
      if (sourceKeyArn === destinationKeyArn)
        throw new ValidationError(
          'The source and destination are one key: use olderThanRotation for its current material.',
        );
    }
    const details = await this.admin.describeKey(destinationKeyArn);
    if (details.state !== 'Enabled' && !input.dryRun)
      throw new DomainError('KeyDisabled', `The destination key ${destinationKeyArn} is ${details.state}.`);
    const spec: JobSpec = {
      mode: rotation ? 'older-than-rotation' : 'source-key',
      sourceKeyArn,
      destinationKeyArn,
      prefix,
      dryRun: input.dryRun === true,
      concurrency: input.concurrency ?? 4,
      ...(rotatedAt ? { rotatedAt } : {}),
    };
    // Only a principal is recorded as a starter: never `schedule`, which runs with the service's authority.
    const createdBy = normalisePrincipal(caller.arn);
    if (!caller.arn.startsWith('arn:') || createdBy === SCHEDULED_BY)
      throw new DomainError('AccessDenied', 'Only an IAM principal may start a re-encryption job.');
    return jobView(await this.create(spec, createdBy, randomUUID(), caller.arn));
  }

  /**
   * Makes a job record (scheduled campaigns pass a fixed id, so a second tick finds it made).
   * `createdBy` is the starter whose rights the job re-checks for each object, or `schedule` for
   * campaigns the operator makes, which run with the service's authority.
   */
  async create(
    spec: JobSpec,
    createdBy: string,
    id: string = randomUUID(),
    createdByArn?: string,
  ): Promise<JobRecord> {
    // A caller's job takes a slot of its quota before its record exists (concurrent starts cannot
    // pass together), given back if the record is not written; scheduled runs have no quota.
    const quotas = isPrincipalArn(createdBy) ? this.options.quotas : undefined;
    await quotas?.reserve(createdBy, 'jobs', id, this.jobCheck);
    const job = newJobRecord(id, spec, createdBy, this.now(), createdByArn);
    try {
      // Indexed before its record exists, so that no tick can miss a job that was made.
      await this.index.add(id);
      await this.records.write(this.recordKey(id), JSON.stringify(job), {
        contentType: 'application/json',
        ifNoneMatch: '*',
      });
    } catch (error) {
      await quotas?.release(createdBy, 'jobs', id).catch(() => undefined);
      throw error;
    }
    this.log('re-encryption job created', {
      jobId: id,
      mode: spec.mode,
      prefix: spec.prefix,
      dryRun: spec.dryRun,
    });
    return job;
  }

  /** The quota check of jobs: a listed job is counted until its record says it finished. */
  private readonly jobCheck: QuotaCheck = async (ids) => {
    const verdicts = new Map<string, Verdict>();
    await Promise.all(
      ids.map(async (id) => {
        const found = await this.load(id).catch(() => null);
        if (found === null) return; // unknown: kept as it is
        verdicts.set(id, !found ? 'absent' : FINISHED.has(found.job.phase) ? 'done' : 'live');
      }),
    );
    return verdicts;
  };

  /** A finished job gives its creator's slot back (best effort: the creator's next check finds it finished). */
  private async jobFinished(job: JobRecord): Promise<void> {
    // Best effort: a tick also drops a finished job it finds in the index.
    await this.index.remove(job.id).catch((error: unknown) => {
      const code = error instanceof DomainError ? error.code : 'InternalError';
      this.log('re-encryption job left in the index', { jobId: job.id, error: code });
    });
    if (!this.options.quotas || !isPrincipalArn(job.createdBy)) return;
    await this.options.quotas.release(job.createdBy, 'jobs', job.id).catch((error: unknown) => {
      const code = error instanceof DomainError ? error.code : 'InternalError';
      this.log('re-encryption job slot not released', { jobId: job.id, error: code });
    });
  }

  /** The caller's right on a key, with a refusal that says which right the job needs. */
  private async require(caller: JobCaller, keyId: string, action: string, what: string): Promise<string> {
    try {
      return await this.access.require(caller, { keyId, action }, caller.record);
    } catch (error) {
      if (error instanceof DomainError && error.code === 'AccessDenied')
        throw new DomainError(
          'AccessDenied',
          `${normalisePrincipal(caller.arn)} may not start this job: it must ${what} the key ${keyId} (${action}). ${error.message}`,
        );
      throw error;
    }
  }

  /** When the key's material last changed: its last rotation, or its creation when it never rotated. */
  private async lastRotation(keyArn: string): Promise<string> {
    let latest = (await this.admin.describeKey(keyArn)).createdAt.getTime();
    let token: string | undefined;
    do {
      const page = await this.admin.rotations(keyArn, 100, token);
      for (const r of page.items) if (r.rotationDate) latest = Math.max(latest, r.rotationDate.getTime());
      token = page.nextToken;
    } while (token);
    return new Date(latest).toISOString();
  }

  /**
   * A job's view (`jobView`: no object name, no count), for a caller who administers its keys
   * (both, for a cross-key job). The refusal names neither key: a job id says nothing of them.
   */
  async status(caller: JobCaller, id: string) {
    if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) throw new DomainError('NotFound', `No job ${JSON.stringify(id)}.`);
    const found = await this.load(id);
    if (!found) throw new DomainError('NotFound', `No job ${JSON.stringify(id)}.`);
    const { sourceKeyArn, destinationKeyArn } = found.job.spec;
    for (const keyArn of new Set([destinationKeyArn, sourceKeyArn])) {
      const { decision } = await this.access.decide(caller, { keyId: keyArn, action: 'kms:PutKeyPolicy' });
      caller.record?.(auditDecision('kms:PutKeyPolicy', keyArn, decision));
      if (!decision.allowed)
        throw new DomainError(
          'AccessDenied',
          `${normalisePrincipal(caller.arn)} may not view job ${id}: only an administrator of its keys may.`,
        );
    }
    return jobView(found.job);
  }

  async load(id: string): Promise<{ job: JobRecord; etag: string } | undefined> {
    const read = await this.records.read(this.recordKey(id));
    if (!read) return undefined;
    return { job: parseJobRecord(read.text), etag: read.etag };
  }

  /** Ids of the jobs not finished yet, in the order they were made, from their index. */
  unfinished(): Promise<string[]> {
    return this.index.unfinished();
  }

  /**
   * One tick of the schedule, until `stop()` says time is up: the unfinished jobs take turns of
   * one page each, round after round, so that no job (however large, whoever started it) waits
   * for another to finish. A lone job runs on without turns.
   */
  async tick(stop: () => boolean = () => false): Promise<string[]> {
    const ran = new Set<string>();
    let round = await this.unfinished();
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
          if (!FINISHED.has(job.phase) && job.lease) next.push(id);
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
   * Answers the record as last saved, or undefined when another worker holds the job.
   */
  async run(
    id: string,
    stop: () => boolean = () => false,
    /** Pages of this turn; the lease is kept after them (the caller gives the next turn). */
    pages = Number.POSITIVE_INFINITY,
  ): Promise<JobRecord | undefined> {
    const found = await this.load(id);
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
      const fresh = await this.load(id);
      if (fresh?.etag !== etag) return undefined;
      if (stop()) {
        // Let the next tick (any worker) take it at once.
        job.lease = undefined;
        await this.save(job, etag, false);
        return job;
      }
      const next = await this.page(job);
      const written = await this.save(next, etag);
      if (!written) return undefined;
      job = next;
      etag = written;
      await this.step('page-saved');
      if (FINISHED.has(job.phase)) await this.jobFinished(job);
    }
    return job;
  }

  /** Writes the record If-Match `etag`, renewing this worker's lease; undefined when another took it. */
  private async save(job: JobRecord, etag: string, keepLease = true): Promise<string | undefined> {
    const now = this.now();
    job.updatedAt = now.toISOString();
    job.lease =
      keepLease && !FINISHED.has(job.phase)
        ? { owner: this.worker, expiresAt: new Date(now.getTime() + this.leaseMs).toISOString() }
        : undefined;
    try {
      return (
        await this.records.write(this.recordKey(job.id), JSON.stringify(job), {
          contentType: 'application/json',
          ifMatch: etag,
        })
      ).etag;
    } catch (error) {
      if (error instanceof DomainError && error.code === 'PreconditionFailed') {
        this.log('re-encryption job taken by another worker', { jobId: job.id, worker: this.worker });
        return undefined;
      }
      throw error;
    }
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

  /**
   * Whom the job acts for, read afresh before each page (one key policy read per key, not the
   * access cache): whether its starter may move an object stored with a given encryption context
   * (`starterMayRewrap`). Scheduled campaigns (`createdBy: schedule`, records only the operator
   * makes) run with the service's authority. A key whose policy cannot be read authorizes nothing;
   * a read still throttled or failing after the retries fails the page, tried again next tick.
   */
  private async authority(job: JobRecord): Promise<(context: EncryptionContext) => boolean> {
    if (job.createdBy === SCHEDULED_BY) return () => true;
    const starter = { arn: job.createdByArn ?? job.createdBy };
    const { sourceKeyArn, destinationKeyArn } = job.spec;
    try {
      const read = (keyArn: string) => this.call(false, () => this.access.policyDecisions(starter, keyArn));
      const source = await read(sourceKeyArn);
      const destination = destinationKeyArn === sourceKeyArn ? source : await read(destinationKeyArn);
      return (context) => starterMayRewrap(source, destination, context);
    } catch (error) {
      if (!(error instanceof DomainError) || error.code === 'Throttled' || error.code === 'DependencyFailure')
        throw error;
      this.log('re-encryption job keys unreadable: nothing authorized', { jobId: job.id, error: error.code });
      return () => false;
    }
  }

  /** Re-wraps the keys with the job's concurrency and adds their outcomes to its counts. */
  private async each(job: JobRecord, keys: string[], retrying: boolean): Promise<void> {
    const outcomes = new Array<ObjectOutcome>(keys.length);
    let next = 0;
    const deps = {
      keys: this.keys,
      objects: this.objects,
      now: this.now,
      call: <T>(kms: boolean, fn: () => Promise<T>) => this.call(kms, fn),
      step: (name: string, key?: string) => this.step(name, key),
      authorized: keys.length > 0 ? await this.authority(job) : () => false,
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
    keys.forEach((key, i) => {
      const outcome = outcomes[i] as ObjectOutcome;
      if (!retrying) job.counts.scanned += 1;
      switch (outcome.kind) {
        case 'rewrapped':
          job.counts.rewrapped += 1;
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
    });
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
