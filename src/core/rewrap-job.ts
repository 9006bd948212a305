/**
 * A re-encryption job as it is stored and shown: what it selects, where it is (phase and cursor),
 * what it counted, and who holds it (the lease). Pure: no I/O, no clock of its own.
 */

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
  | 'completed-with-failures';

export const FINISHED: ReadonlySet<JobPhase> = new Set(['succeeded', 'completed-with-failures']);

export interface JobCounts {
  /** Objects looked at (instruction files and the jobs' own records are not objects). */
  scanned: number;
  /** Re-wrapped by this job (dry run: would be). */
  rewrapped: number;
  /** Already under the destination key (or wrapped after the rotation). */
  alreadyCurrent: number;
  /** Not for this job, by reason: `other-key`, `not-encrypted`, ... */
  skipped: Record<string, number>;
  /** Could not be re-wrapped, by reason. */
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

export function newJobRecord(id: string, spec: JobSpec, createdBy: string, now: Date): JobRecord {
  const at = now.toISOString();
  return {
    id,
    spec,
    createdBy,
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

/** The public view of a job: never a secret (keys, ARNs, counts, times). */
export function jobView(job: JobRecord) {
  const percent = percentOf(job);
  const finished = FINISHED.has(job.phase);
  return {
    id: job.id,
    state: finished ? job.phase : job.phase === 'pending' ? 'pending' : 'running',
    phase: job.phase,
    mode: job.spec.mode,
    sourceKeyId: job.spec.sourceKeyArn,
    destinationKeyId: job.spec.destinationKeyArn,
    prefix: job.spec.prefix,
    dryRun: job.spec.dryRun,
    concurrency: job.spec.concurrency,
    ...(job.spec.rotatedAt ? { rotatedAt: job.spec.rotatedAt } : {}),
    createdBy: job.createdBy,
    counts: job.counts,
    ...(job.total !== undefined ? { total: job.total } : {}),
    ...(percent !== undefined ? { percent } : {}),
    ...(job.cursor !== undefined ? { cursor: job.cursor } : {}),
    deferred: job.deferred.length,
    createdAt: job.createdAt,
    ...(job.startedAt ? { startedAt: job.startedAt } : {}),
    updatedAt: job.updatedAt,
    ...(job.finishedAt ? { finishedAt: job.finishedAt } : {}),
    ...(finished ? { report: reportOf(job) } : {}),
  };
}

/** The final report: a sentence and the failures kept. */
export function reportOf(job: JobRecord) {
  const c = job.counts;
  const sum = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);
  const verb = job.spec.dryRun ? 'would re-wrap' : 're-wrapped';
  return {
    summary: `${c.scanned} objects scanned: ${verb} ${c.rewrapped}, ${c.alreadyCurrent} already current, ${sum(c.skipped)} skipped, ${sum(c.failed)} failed.`,
    failures: job.failures,
  };
}

/** Reads a stored record back, refusing anything that is not one (a corrupted or foreign object). */
export function parseJobRecord(text: string): JobRecord {
  const value = JSON.parse(text) as Partial<JobRecord>;
  if (
    !value ||
    typeof value !== 'object' ||
    typeof value.id !== 'string' ||
    !value.spec ||
    typeof value.phase !== 'string' ||
    !value.counts ||
    !Array.isArray(value.deferred)
  )
    throw new Error('not a job record');
  return value as JobRecord;
}
