import type { Decision, EncryptionContext } from '@eaas/aws-rules';
import type { Person } from './person.js';

/**
 * A re-encryption job as it is stored: what it selects, where it is (phase and cursor),
 * what it counted, and who holds it (the lease). Pure: no I/O, no clock of its own.
 *
 * The stored record is for the service and its operators (it names and counts objects: the
 * cursor, the failures, the counts); `jobView` (rewrap-view.ts) is what the API shows, and shows
 * no object name and no count of objects at all.
 */

/**
 * `createdBy` of the jobs the operator makes itself (records written with the service's rights,
 * never through the API): they run with the service's authority, without the starter's re-check.
 */
export const SCHEDULED_BY = 'schedule';

/** Which objects a job re-wraps. */
export type JobMode =
  /** Wrapped under `sourceKeyArn`: re-wrapped onto `destinationKeyArn`. */
  | 'source-key'
  /** Wrapped under `destinationKeyArn` before its last rotation: re-wrapped onto its current material. */
  | 'older-than-rotation';

export interface JobSpec {
  mode: JobMode;
  sourceKeyArn: string;
  destinationKeyArn: string;
  /** Only object keys starting with this (relative to the service's object prefix). */
  prefix: string;
  /** Count what a real run would do; change nothing. */
  dryRun: boolean;
  /** Objects processed at once within a page. */
  concurrency: number;
  /** older-than-rotation: the key's last rotation when the job was made (ISO); objects wrapped before it are re-wrapped. */
  rotatedAt?: string | undefined;
}

/**
 * `counting`: listing keys only, to know the total; `scanning`: re-wrapping page by page;
 * `retrying`: the objects that lost a race to a writer, once more; then `succeeded`
 * (every object done or skipped with a reason) or `completed-with-failures`.
 */
export type JobPhase =
  | 'pending'
  | 'counting'
  | 'scanning'
  | 'retrying'
  | 'succeeded'
  | 'completed-with-failures'
  /** Batch engine only: S3 Batch Operations failed the job (e.g. its failure threshold), or it was cancelled. */
  | 'failed'
  | 'cancelled';

export const FINISHED: ReadonlySet<JobPhase> = new Set([
  'succeeded',
  'completed-with-failures',
  'failed',
  'cancelled',
]);

/**
 * Which engine runs a job: `scheduled`, the service's own worker (`rewrap-run.ts`), or `batch`,
 * S3 Batch Operations invoking the per-object function (`rewrap-batch*.ts`). `auto` (the API's
 * default) picks batch above a threshold of objects under the prefix when batch is deployed.
 */
export type JobEngine = 'scheduled' | 'batch';
export type EngineChoice = JobEngine | 'auto';

/** What the service knows of a job's S3 Batch Operations job (batch engine). */
export interface BatchState {
  /** S3's job id, once CreateJob answered (a job made again with the same token is the same job). */
  jobId?: string | undefined;
  /** S3's status as last read (DescribeJob). */
  status?: string | undefined;
  /** S3's progress summary as last read: tasks in the manifest, succeeded and failed so far. */
  tasks?: { total?: number | undefined; succeeded: number; failed: number } | undefined;
  /**
   * S3 completed the job and its completion report is being counted, over as many ticks as it
   * takes (`rewrap-batch.ts`): where the count is, and what it counted so far. The counts and
   * the cursor are saved in one write, so a count cut off anywhere resumes from the last save
   * without counting a row twice.
   */
  report?: ReportCursor | undefined;
}

/** How far the counting of a completion report is (`BatchState.report`). */
export interface ReportCursor {
  /** The report's manifest.json (its results files are counted in the order it lists them). */
  manifest: string;
  /** The results file being counted (an index into the manifest's list), and the byte after its last row counted. */
  file: number;
  offset: number;
  /** The counts of the rows counted so far, and the first failed keys (at most MAX_REPORTED_FAILURES). */
  counts: JobCounts;
  failures: { key: string; reason: string }[];
}

export interface JobCounts {
  /** Objects looked at (instruction files and the jobs' own records are not objects). */
  scanned: number;
  /** Re-wrapped by this job (dry run: would be). */
  rewrapped: number;
  /** Already under the destination key (or wrapped after the rotation). */
  alreadyCurrent: number;
  /**
   * Not re-wrapped, by reason: `not-authorized` (under the job's keys, but the starter may not
   * move it); not for this job: `other-key`, `not-encrypted`, `deleted`, `unknown-key`, ...
   */
  skipped: Record<string, number>;
  /**
   * Could not be re-wrapped, by reason. Reasons starting with `unknown-key:` are objects of other
   * writers that failed before KMS said whether they are under the source key.
   */
  failed: Record<string, number>;
}

export interface JobLease {
  owner: string;
  /** ISO time after which another worker may take the job. */
  expiresAt: string;
}

export interface JobRecord {
  id: string;
  spec: JobSpec;
  /** Normalised principal that started the job; `schedule` for scheduled runs. */
  createdBy: string;
  /**
   * The starter's ARN as authenticated (a role session stays a session), as its start was
   * decided: the per-object re-check evaluates the key policies with it. Absent in records made
   * before it existed: `createdBy` is used.
   */
  createdByArn?: string | undefined;
  /** A person who started it (every person shares one role): its condition keys decide with it. */
  createdByPerson?: Person | undefined;
  /** The engine that runs it; absent in records made before there were two: scheduled. */
  engine?: JobEngine | undefined;
  /** The engine the starter asked for (the view shows this, never the one `auto` picked). */
  engineChoice?: EngineChoice | undefined;
  /** Batch engine: the S3 Batch Operations job. */
  batch?: BatchState | undefined;
  phase: JobPhase;
  counts: JobCounts;
  /** Objects under the prefix, once the counting pass is over. */
  total?: number | undefined;
  /** The last key of the last page done (S3 StartAfter): the job resumes after it. */
  cursor?: string | undefined;
  /** Keys that lost a race with a writer (412): tried again in the `retrying` phase. */
  deferred: string[];
  /** A few failed keys with their reason, for the report (bounded). */
  failures: { key: string; reason: string }[];
  lease?: JobLease | undefined;
  /** How many pages each worker has done in all, for the log and the crash tests. */
  pages: number;
  createdAt: string;
  startedAt?: string | undefined;
  updatedAt: string;
  finishedAt?: string | undefined;
}

export const MAX_REPORTED_FAILURES = 100;
export const MAX_DEFERRED = 10_000;

export function emptyCounts(): JobCounts {
  return { scanned: 0, rewrapped: 0, alreadyCurrent: 0, skipped: {}, failed: {} };
}

export function newJobRecord(
  id: string,
  spec: JobSpec,
  createdBy: string,
  now: Date,
  createdByArn?: string,
): JobRecord {
  const at = now.toISOString();
  return {
    id,
    spec,
    createdBy,
    ...(createdByArn !== undefined && createdByArn !== createdBy ? { createdByArn } : {}),
    phase: 'pending',
    counts: emptyCounts(),
    deferred: [],
    failures: [],
    pages: 0,
    createdAt: at,
    updatedAt: at,
  };
}

/** Whether `owner` may take (or keep) the job at `now`: no lease, an expired one, or its own. */
export function leaseAvailable(job: JobRecord, owner: string, now: Date): boolean {
  if (FINISHED.has(job.phase)) return false;
  if (!job.lease) return true;
  return job.lease.owner === owner || Date.parse(job.lease.expiresAt) <= now.getTime();
}

/** Percentage of the objects scanned, once the total is known (the counting pass is done). */
export function percentOf(job: JobRecord): number | undefined {
  if (job.total === undefined || job.phase === 'counting') return undefined;
  if (FINISHED.has(job.phase) || job.total === 0) return 100;
  return Math.min(100, Math.floor((job.counts.scanned / job.total) * 1000) / 10);
}

export type Verdict =
  | { rewrap: true }
  | { rewrap: false; outcome: 'alreadyCurrent' }
  | { rewrap: false; outcome: 'skipped'; reason: string };

/**
 * Whether an object is for this job, from this service's own metadata: the recorded key ARN and
 * the time its data key was wrapped. Objects without a recorded key (other writers) are tried
 * against the source key by KMS itself (`unknown-key`).
 */
export function select(
  spec: JobSpec,
  recorded: { keyArn?: string | undefined; wrappedAt?: string | undefined },
): Verdict | { rewrap: 'try' } {
  if (spec.mode === 'source-key') {
    if (recorded.keyArn === undefined) return { rewrap: 'try' };
    if (recorded.keyArn === spec.destinationKeyArn) return { rewrap: false, outcome: 'alreadyCurrent' };
    if (recorded.keyArn !== spec.sourceKeyArn)
      return { rewrap: false, outcome: 'skipped', reason: 'other-key' };
    return { rewrap: true };
  }
  if (recorded.keyArn === undefined) return { rewrap: false, outcome: 'skipped', reason: 'no-wrap-time' };
  if (recorded.keyArn !== spec.destinationKeyArn)
    return { rewrap: false, outcome: 'skipped', reason: 'other-key' };
  const wrapped = recorded.wrappedAt === undefined ? Number.NaN : Date.parse(recorded.wrappedAt);
  // No recorded wrap time: older than any rotation, as far as anyone can tell.
  if (Number.isNaN(wrapped) || spec.rotatedAt === undefined) return { rewrap: true };
  return wrapped < Date.parse(spec.rotatedAt)
    ? { rewrap: true }
    : { rewrap: false, outcome: 'alreadyCurrent' };
}

/** Adds one to a reason's count. */
export function bump(map: Record<string, number>, reason: string): void {
  map[reason] = (map[reason] ?? 0) + 1;
}

/** A skip reason about an object under the job's keys (the starter may not move it). */
export const NOT_AUTHORIZED = 'not-authorized';

/** The prefix of failure reasons about objects not known to be under the job's keys. */
export const UNKNOWN_KEY_FAILURE = 'unknown-key:';

/** A decision on one key for the job's starter: an action, under an object's encryption context. */
export type StarterDecision = (
  action: string,
  context: EncryptionContext,
  /** Leave out the administrators' Deny the service writes (`withoutAdminDeny`); every other Deny counts. */
  only?: 'except-admin-deny',
) => Pick<Decision, 'allowed' | 'reason'>;

/**
 * The rule a job's starter must still meet for each object it moves, with that object's stored
 * encryption context (exactly what KMS binds): it administers the source and the destination
 * (`kms:PutKeyPolicy` allowed by each key policy), and neither policy explicitly denies it the
 * half of ReEncrypt on that key (`kms:ReEncryptFrom` on the source, `kms:ReEncryptTo` on the
 * destination). Administrators never use their keys (the policy the service writes denies them
 * every cryptographic operation outright, by the statement `ADMIN_DENY_SID`), so an Allow of
 * ReEncrypt is not asked for and that one statement is left out; every other Deny is honoured,
 * with a condition (on the context: these objects) or without (this principal must never move
 * data of the key), on `kms:*`, `kms:ReEncrypt*` or administration.
 */
export function starterMayRewrap(
  source: StarterDecision,
  destination: StarterDecision,
  context: EncryptionContext,
): boolean {
  const administers = (d: StarterDecision) => d('kms:PutKeyPolicy', context).allowed;
  const notDenied = (d: StarterDecision, action: string) =>
    d(action, context, 'except-admin-deny').reason !== 'explicit-deny';
  return (
    administers(source) &&
    administers(destination) &&
    notDenied(source, 'kms:ReEncryptFrom') &&
    notDenied(destination, 'kms:ReEncryptTo')
  );
}

/** Reads a stored record back, refusing anything that is not one (a corrupted or foreign object). */
export function parseJobRecord(text: string): JobRecord {
  const value = JSON.parse(text) as Partial<JobRecord>;
  if (
    !value ||
    typeof value !== 'object' ||
    typeof value.id !== 'string' ||
    typeof value.createdBy !== 'string' ||
    !value.spec ||
    typeof value.phase !== 'string' ||
    !value.counts ||
    !Array.isArray(value.deferred)
  )
    throw new Error('not a job record');
  return value as JobRecord;
}
