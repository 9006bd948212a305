import { FINISHED, type JobRecord, NOT_AUTHORIZED, UNKNOWN_KEY_FAILURE } from './rewrap-job.js';

/**
 * What the API shows of a re-encryption job (`jobView`), and what it keeps back: the record's
 * counts stay with the operators (`visibleCounts` is the part about the job's own keys).
 */

/**
 * The counts about objects under the job's own keys (re-wrapped, already current, refused to the
 * starter, failed after selection), without those that include objects under other keys,
 * unencrypted or deleted (nor `scanned`, nor a total of the prefix). No API answer shows them
 * (they would tell an administrator, who may decrypt none of them, how many documents a guessed
 * prefix holds); `jobView` uses only whether `failed` is empty. Operators read every count in the
 * record and in the log line `re-encryption job page`.
 */
export function visibleCounts(job: JobRecord) {
  const notAuthorized = job.counts.skipped[NOT_AUTHORIZED] ?? 0;
  return {
    rewrapped: job.counts.rewrapped,
    alreadyCurrent: job.counts.alreadyCurrent,
    skipped: (notAuthorized > 0 ? { [NOT_AUTHORIZED]: notAuthorized } : {}) as Record<string, number>,
    failed: Object.fromEntries(
      Object.entries(job.counts.failed).filter(([reason]) => !reason.startsWith(UNKNOWN_KEY_FAILURE)),
    ),
  };
}

/** The phases a view shows: `counting`, `scanning` and `retrying` are all `running`. */
export type ViewPhase =
  | 'pending'
  | 'running'
  | 'succeeded'
  | 'completed-with-failures'
  | 'failed'
  | 'cancelled';

/**
 * The view of a job the API answers (to an administrator of its keys, who may decrypt none of the
 * documents): its spec, state, phase and times, and no object name and no count of objects at
 * all (no counts, no deferred, no total, no percentage, no cursor, no failed keys): a count,
 * even of objects under the job's keys only, is a name oracle (dry runs over guessed prefixes,
 * "hr/2027-layoffs-plan.docx", "hr/2", ..., answer 1 or 0).
 *
 * The one bit the documents still decide: a finished job is `completed-with-failures` when the
 * record has failures of objects under its keys (not the hidden `unknown-key:` ones), else
 * `succeeded`. Only a failure (a document too large to copy, a KMS or S3 refusal after
 * selection) reveals it, never a document that is merely there. `retrying` shows as `scanning`
 * (it would say that some object lost a race with a writer).
 */
export function jobView(job: JobRecord) {
  const finished = FINISHED.has(job.phase);
  const phase: ViewPhase =
    job.phase === 'failed' || job.phase === 'cancelled'
      ? job.phase
      : finished
        ? Object.keys(visibleCounts(job).failed).length > 0
          ? 'completed-with-failures'
          : 'succeeded'
        : job.phase === 'pending'
          ? 'pending'
          : 'running';
  return {
    id: job.id,
    state: phase,
    phase,
    mode: job.spec.mode,
    sourceKeyId: job.spec.sourceKeyArn,
    destinationKeyId: job.spec.destinationKeyArn,
    prefix: job.spec.prefix,
    dryRun: job.spec.dryRun,
    concurrency: job.spec.concurrency,
    // As asked, never what `auto` picked: that would say whether the prefix holds more objects
    // (under any key) than the threshold.
    engine: job.engineChoice ?? 'scheduled',
    ...(job.spec.rotatedAt ? { rotatedAt: job.spec.rotatedAt } : {}),
    createdBy: job.createdBy,
    // Only the time the caller's own request set: when a job started, how often its record
    // changes and when it finished follow the pages it scans, so how many objects the prefix holds
    // under any key (a second review timed them).
    createdAt: job.createdAt,
    ...(finished ? { report: reportOf(phase, job.spec.dryRun) } : {}),
  };
}

/**
 * The final report of a view: a fixed sentence per outcome, with no number and no name, pointing
 * operators to the record and the log for the counts and the failed keys.
 */
export function reportOf(phase: ViewPhase, dryRun: boolean) {
  const what = dryRun ? 'The dry run' : 'The job';
  const how =
    phase === 'completed-with-failures'
      ? 'finished with failures'
      : phase === 'failed'
        ? 'failed'
        : phase === 'cancelled'
          ? 'was cancelled'
          : 'finished';
  return {
    summary: `${what} ${how}. Counts and failed objects are not shown to administrators: operators read them in the job record and the log line "re-encryption job page".`,
  };
}
