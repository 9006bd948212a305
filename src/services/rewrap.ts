import { randomUUID } from 'node:crypto';
import { normalisePrincipal } from '@eaas/aws-rules';
import { DomainError, ValidationError } from '../core/errors.js';
import type { Person } from '../core/person.js';
import {
  type EngineChoice,
  type JobEngine,
  type JobRecord,
  type JobSpec,
  newJobRecord,
  SCHEDULED_BY,
} from '../core/rewrap-job.js';
import { jobView } from '../core/rewrap-view.js';
import { nameInSpace, spacePrefixOf } from '../core/spaces.js';
import type { AuditDecision, JobObjects, KeyAdmin, Keys } from '../ports.js';
import { type AccessControl, auditDecision, type Caller } from './access.js';
import type { QuotaLedger } from './quotas.js';
import { BatchEngine, type BatchEngineSettings, type RefreshMode } from './rewrap-batch.js';
import { cancelRecord } from './rewrap-cancel.js';
import { listJobs } from './rewrap-list.js';
import { JOBS_PREFIX, JobRecords } from './rewrap-records.js';
import { JobRunner, type RunOptions } from './rewrap-run.js';

export { JOBS_PREFIX } from './rewrap-records.js';

/**
 * Re-encryption jobs: re-wrap the data keys of stored documents onto another key, or onto a key's
 * current material after a rotation, page by page, without reading a document's body.
 *
 * A job is one JSON record under `jobs/` in the vault bucket (outside the documents' key space:
 * object keys under `jobs/` are refused; `rewrap-records.ts`). This module starts jobs and shows
 * them; the run loop is `rewrap-run.ts`, one object's re-wrap `rewrap-object.ts`, and the starter's
 * right on each object `rewrap-authority.ts`.
 */

export interface RewrapOptions extends RunOptions {
  /** Per-caller quota of unfinished jobs; none when absent. */
  quotas?: QuotaLedger | undefined;
  /** The batch engine (S3 Batch Operations), when deployed; without it every job is scheduled. */
  batch?: BatchEngineSettings | undefined;
}

export interface StartJob {
  sourceKeyId?: string | undefined;
  olderThanRotation?: boolean | undefined;
  destinationKeyId: string;
  prefix?: string | undefined;
  dryRun?: boolean | undefined;
  concurrency?: number | undefined;
  /** Which engine runs it: `auto` (the default) picks batch above the threshold, when deployed. */
  engine?: EngineChoice | undefined;
}

export interface JobCaller extends Caller {
  /** A person signed in through the identity pool: a job's prefix is in its space. */
  person?: Person | undefined;
  record?: (decision: AuditDecision) => void;
}

export class RewrapService {
  private readonly now: () => Date;
  private readonly records: JobRecords;
  private readonly runner: JobRunner;
  private readonly batch: BatchEngine | undefined;

  constructor(
    keys: Keys,
    private readonly admin: Pick<KeyAdmin, 'describeKey' | 'rotations'>,
    private readonly access: AccessControl,
    /** The documents, keys relative to the service's object prefix. */
    private readonly objects: JobObjects,
    /** The job records, at the root of the vault bucket. */
    records: JobObjects,
    private readonly options: RewrapOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
    this.records = new JobRecords(records, this.now, (m, f) => this.log(m, f), options.quotas);
    this.batch = options.batch
      ? new BatchEngine(options.batch, this.records, this.now, (m, f) => this.log(m, f))
      : undefined;
    // The scheduled runner leaves batch jobs to S3; its tick only reads their progress back.
    this.runner = new JobRunner(keys, access, objects, this.records, {
      ...options,
      batchTurn: async (found, stop) => {
        const turn = await this.refreshBatch(found, { count: { stop } });
        return turn.counting ? turn.job : undefined;
      },
    });
  }

  /** This worker's name in leases. */
  get worker(): string {
    return this.runner.worker;
  }

  /**
   * Precondition of starting a job: the caller administers the destination key and, for a
   * cross-key job, the source key too: the administrator of a key already decides who may read
   * its data, so a job gives no one a power it did not have (a user or grantee of the source may
   * not move its documents). A current-material campaign stays on one key, whose administrator
   * alone may start it (separation of duties keeps administrators from using keys). The same rule
   * is checked again for each object when the job runs (`rewrap-authority.ts`).
   */
  async start(caller: JobCaller, input: StartJob) {
    // Precondition: the caller is under its quota of unfinished jobs (taken in create()).
    await this.options.quotas?.check(normalisePrincipal(caller.arn), 'jobs', this.records.jobCheck);
    const rotation = input.olderThanRotation === true;
    if (rotation === (input.sourceKeyId !== undefined))
      throw new ValidationError(
        'Give either sourceKeyId or olderThanRotation: true, not both and not neither.',
      );
    // A person's job is confined to its space (names relative to it, as every route takes them).
    const prefix = `${caller.person ? spacePrefixOf(caller.person) : ''}${input.prefix ?? ''}`;
    if (prefix.startsWith(JOBS_PREFIX))
      throw new ValidationError(`The prefix ${JOBS_PREFIX} holds job records, not documents.`);
    const destinationKeyArn = await this.administered(caller, input.destinationKeyId);
    let sourceKeyArn = destinationKeyArn;
    let rotatedAt: string | undefined;
    if (rotation) {
      rotatedAt = await this.lastRotation(destinationKeyArn);
    } else {
      sourceKeyArn = await this.administered(caller, input.sourceKeyId ?? '');
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
    const choice = input.engine ?? 'auto';
    const engine = await this.engineFor(choice, prefix);
    const job = await this.create(spec, createdBy, randomUUID(), caller.arn, caller.person, {
      engine,
      choice,
    });
    return viewFor(job, caller);
  }

  /**
   * The engine of a new job: as asked, or for `auto` S3 Batch Operations when it is deployed and
   * the prefix holds at least the threshold of documents (under any key; counted by listing,
   * stopping at the threshold), else the scheduled worker. Batch asked for where it is not
   * deployed is a 400.
   */
  private async engineFor(choice: EngineChoice, prefix: string): Promise<JobEngine> {
    if (choice === 'scheduled') return 'scheduled';
    if (choice === 'batch') {
      if (!this.batch)
        throw new ValidationError(
          'The batch engine (S3 Batch Operations) is not deployed here: use engine "scheduled" or "auto".',
        );
      return 'batch';
    }
    if (!this.batch) return 'scheduled';
    return (await this.batch.atLeastThreshold(this.objects, prefix)) ? 'batch' : 'scheduled';
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
    createdByPerson?: Person,
    engine: { engine: JobEngine; choice: EngineChoice } = { engine: 'scheduled', choice: 'scheduled' },
  ): Promise<JobRecord> {
    if (engine.engine === 'batch' && !this.batch)
      throw new ValidationError('The batch engine (S3 Batch Operations) is not deployed here.');
    const job: JobRecord = {
      ...newJobRecord(id, spec, createdBy, this.now(), createdByArn),
      ...(createdByPerson ? { createdByPerson } : {}),
      engine: engine.engine,
      engineChoice: engine.choice,
    };
    await this.records.add(job);
    this.log('re-encryption job created', {
      jobId: id,
      mode: spec.mode,
      prefix: spec.prefix,
      dryRun: spec.dryRun,
      engine: engine.engine,
    });
    if (engine.engine === 'batch' && this.batch) {
      // The record first, then the S3 job (its request token the job id): a creation that fails
      // here is made again by the next tick, and a repeated one finds the same S3 job.
      const found = await this.records.load(id);
      if (found)
        try {
          return (await this.batch.submit(found)).job;
        } catch (error) {
          const code = error instanceof DomainError ? error.code : 'InternalError';
          this.log('re-encryption batch job not created yet: the next tick retries', {
            jobId: id,
            error: code,
          });
        }
    }
    return job;
  }

  /**
   * Cancels a job, either engine (`cancelRecord`), with the same right as its view (`status`: an
   * unknown id is NotFound, a job whose keys the caller does not administer AccessDenied, as GET
   * answers them). A batch job is first brought up to S3's state (one S3 completed is finished,
   * its report counted or not; S3 not answering is DependencyFailure, nothing written), then its
   * record says `cancelled` at once (the per-object function refuses the tasks S3 still
   * sends) and S3 is asked to stop (UpdateJobStatus Cancelled). That request failing leaves the
   * job cancelled all the same: it is logged, and every task it still runs is refused.
   */
  async cancel(caller: JobCaller, id: string): Promise<ReturnType<typeof viewFor>> {
    // A batch job S3 may have finished is not cancelled on a guess: S3 unreadable is a 502.
    await this.status(caller, id, { strict: true });
    const { job, cancelledNow } = await cancelRecord(this.records, id, this.now);
    if (cancelledNow) {
      this.log('re-encryption job cancelled', { jobId: id, engine: job.engine ?? 'scheduled' });
      if (job.engine === 'batch')
        await this.batch?.cancel(job).catch((error: unknown) => {
          const code = error instanceof DomainError ? error.code : 'InternalError';
          this.log('re-encryption batch job not cancelled in S3: its tasks are refused', {
            jobId: id,
            error: code,
          });
        });
    }
    return viewFor(job, caller);
  }

  /**
   * A batch job's record brought up to S3's state (status, progress; with `mode.count`, the tick's
   * alone, a turn of counting its completion report); as it is when S3 cannot say, or throwing
   * DependencyFailure then when `strict` (a cancel must not act on a state it could not read).
   */
  private async refreshBatch(
    found: { job: JobRecord; etag: string },
    mode: RefreshMode & { strict?: boolean } = {},
  ): Promise<{ job: JobRecord; counting?: boolean }> {
    if (!this.batch || found.job.engine !== 'batch') return found;
    try {
      return await this.batch.refresh(found, mode);
    } catch (error) {
      const code = error instanceof DomainError ? error.code : 'InternalError';
      this.log('re-encryption batch job progress unread', { jobId: found.job.id, error: code });
      if (mode.strict)
        throw new DomainError(
          'DependencyFailure',
          // Names no engine: which one `auto` picked says how many documents the prefix holds.
          `The state of job ${found.job.id} could not be read: try again.`,
        );
      return found;
    }
  }

  /** The caller's right to administer a key, with a refusal that says the job needs it. */
  private async administered(caller: JobCaller, keyId: string): Promise<string> {
    const action = 'kms:PutKeyPolicy';
    try {
      return (await this.access.require(caller, { keyId, action }, { record: caller.record })).keyArn;
    } catch (error) {
      if (error instanceof DomainError && error.code === 'AccessDenied')
        throw new DomainError(
          'AccessDenied',
          `${normalisePrincipal(caller.arn)} may not start this job: it must administer the key ${keyId} (${action}). ${error.message}`,
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
  async status(caller: JobCaller, id: string, options: { strict?: boolean } = {}) {
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
    // A batch job's state is S3's: read at each view (the tick reads it too, and counts the report).
    return viewFor((await this.refreshBatch(found, { strict: options.strict })).job, caller);
  }

  /**
   * The caller's own jobs, newest first, one page of at most `limit` (`listJobs`), each as GET
   * /v1/jobs/{id} would show it: a batch job not finished is read back from S3 (bounded there).
   */
  async list(caller: JobCaller, limit: number, cursor: string | undefined) {
    const page = await listJobs(
      {
        records: this.records,
        access: this.access,
        refresh: async (found) => (await this.refreshBatch(found)).job,
      },
      caller,
      limit,
      cursor,
    );
    return { jobs: page.jobs.map((job) => viewFor(job, caller)), ...(page.next ? { next: page.next } : {}) };
  }

  load(id: string): Promise<{ job: JobRecord; etag: string } | undefined> {
    return this.records.load(id);
  }

  /** Ids of the jobs not finished yet, in the order they were made, from their index. */
  unfinished(): Promise<string[]> {
    return this.records.unfinished();
  }

  /** One tick of the schedule (`JobRunner.tick`): the unfinished jobs take turns, one page each. */
  tick(stop?: () => boolean): Promise<string[]> {
    return this.runner.tick(stop);
  }

  /** Works on one job (`JobRunner.run`); undefined when another worker holds it. */
  run(id: string, stop?: () => boolean, pages?: number): Promise<JobRecord | undefined> {
    return this.runner.run(id, stop, pages);
  }

  private log(message: string, fields: Record<string, unknown>): void {
    this.options.log?.(message, fields);
  }
}

/** A job's view for the caller: a person's own job shows its prefix relative to its space. */
function viewFor(job: JobRecord, caller: JobCaller) {
  const view = jobView(job);
  const mine = job.createdByPerson && job.createdByPerson.identityId === caller.person?.identityId;
  return mine ? { ...view, prefix: nameInSpace(caller.person, view.prefix) } : view;
}
