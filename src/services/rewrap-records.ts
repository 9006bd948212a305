import { isPrincipalArn } from '@eaas/aws-rules';
import { DomainError } from '../core/errors.js';
import { FINISHED, type JobRecord, parseJobRecord } from '../core/rewrap-job.js';
import type { JobObjects } from '../ports.js';
import type { QuotaCheck, QuotaLedger, Verdict } from './quotas.js';
import { UnfinishedJobIndex } from './rewrap-index.js';
import { StarterIndex, starterOf } from './rewrap-starters.js';

/** The key prefix of job records in the vault bucket; document keys may not start with it. */
export const JOBS_PREFIX = 'jobs/';

/**
 * The job records: one JSON object per job under `jobs/` at the root of the vault bucket, the
 * index of the unfinished ones (which a tick reads instead of every record), and the starters'
 * quota slots, taken when a job is made and given back when it finishes.
 */
export class JobRecords {
  private readonly index: UnfinishedJobIndex;
  /** Each starter's jobs, newest first (GET /v1/jobs). */
  readonly starters: StarterIndex;

  constructor(
    private readonly records: JobObjects,
    private readonly now: () => Date,
    private readonly log: (message: string, fields: Record<string, unknown>) => void,
    private readonly quotas?: QuotaLedger | undefined,
  ) {
    this.index = new UnfinishedJobIndex(
      records,
      JOBS_PREFIX,
      async (id) => {
        const found = await this.load(id);
        return found && { finished: FINISHED.has(found.job.phase), createdAt: found.job.createdAt };
      },
      this.now,
    );
    this.starters = new StarterIndex(records, JOBS_PREFIX);
  }

  private key(id: string): string {
    return `${JOBS_PREFIX}${id}.json`;
  }

  async load(id: string): Promise<{ job: JobRecord; etag: string } | undefined> {
    const read = await this.records.read(this.key(id));
    if (!read) return undefined;
    return { job: parseJobRecord(read.text), etag: read.etag };
  }

  /** Ids of the jobs not finished yet, in the order they were made, from their index. */
  unfinished(): Promise<string[]> {
    return this.index.unfinished();
  }

  /**
   * Writes a new job's record. A starter's job takes a slot of its quota before its record exists
   * (concurrent starts cannot pass together), given back if the record is not written; scheduled
   * runs have no quota.
   */
  async add(job: JobRecord): Promise<void> {
    const quotas = isPrincipalArn(job.createdBy) ? this.quotas : undefined;
    await quotas?.reserve(job.createdBy, 'jobs', job.id, this.jobCheck);
    try {
      // Indexed before its record exists, so that no tick can miss a job that was made.
      await this.index.add(job.id);
      // Listed by its starter: marked before its record exists, as the index does.
      if (isPrincipalArn(job.createdBy))
        await this.starters.add(
          starterOf(job.createdBy, job.createdByPerson?.identityId),
          job.id,
          job.createdAt,
        );
      await this.records.write(this.key(job.id), JSON.stringify(job), {
        contentType: 'application/json',
        ifNoneMatch: '*',
      });
    } catch (error) {
      await quotas?.release(job.createdBy, 'jobs', job.id).catch(() => undefined);
      throw error;
    }
  }

  /** Writes the record If-Match `etag`; undefined when another writer changed it first. */
  async replace(job: JobRecord, etag: string): Promise<string | undefined> {
    try {
      const out = await this.records.write(this.key(job.id), JSON.stringify(job), {
        contentType: 'application/json',
        ifMatch: etag,
      });
      return out.etag;
    } catch (error) {
      if (error instanceof DomainError && error.code === 'PreconditionFailed') return undefined;
      throw error;
    }
  }

  /** The quota check of jobs: a listed job is counted until its record says it finished. */
  readonly jobCheck: QuotaCheck = async (ids) => {
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

  /** A finished job leaves the index and gives its creator's slot back (best effort both). */
  async finished(job: JobRecord): Promise<void> {
    // A tick also drops a finished job it finds in the index; the creator's next check finds it finished.
    await this.index.remove(job.id).catch((error: unknown) => {
      this.log('re-encryption job left in the index', { jobId: job.id, error: codeOf(error) });
    });
    if (!this.quotas || !isPrincipalArn(job.createdBy)) return;
    await this.quotas.release(job.createdBy, 'jobs', job.id).catch((error: unknown) => {
      this.log('re-encryption job slot not released', { jobId: job.id, error: codeOf(error) });
    });
  }
}

const codeOf = (error: unknown) => (error instanceof DomainError ? error.code : 'InternalError');
