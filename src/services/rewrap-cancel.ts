import { DomainError } from '../core/errors.js';
import { FINISHED, type JobRecord } from '../core/rewrap-job.js';
import type { JobRecords } from './rewrap-records.js';

/**
 * Writes of the record a cancel tries: each lost one means another writer (a worker saving a
 * page, a refresh of a batch job) wrote it first, which happens at most once a page.
 */
const CANCEL_ATTEMPTS = 5;

/**
 * Marks a job's record `cancelled` (POST /v1/jobs/{id}/cancel), either engine, If-Match the
 * record as read, so no write of another is lost: the scheduled worker holding the job finds
 * its lease gone at its next page boundary and stops (`JobRunner.run` keeps the counts of the
 * page it was on); the batch engine's per-object function refuses every task it is sent after
 * this but the completion of a copy the job left half done (`rewrap-batch-task.ts`). The job leaves the unfinished index and gives its starter's
 * quota slot back. Objects already re-wrapped stay so, each readable; a job made again over the
 * same keys finds them `already re-wrapped` and moves the rest.
 *
 * Answers the record and whether this call cancelled it: a job already cancelled is answered as
 * it is (cancelling is idempotent); one finished otherwise (a batch job S3 completed included)
 * is `409 InvalidState`; a record that kept changing under every attempt `409
 * ConcurrentModification` (retry).
 */
export async function cancelRecord(
  records: JobRecords,
  id: string,
  now: () => Date,
): Promise<{ job: JobRecord; cancelledNow: boolean }> {
  for (let attempt = 0; attempt < CANCEL_ATTEMPTS; attempt++) {
    const found = await records.load(id);
    if (!found) throw new DomainError('NotFound', `No job ${JSON.stringify(id)}.`);
    if (found.job.phase === 'cancelled') return { job: found.job, cancelledNow: false };
    // A batch job S3 completed is finished, its report still being counted by the tick.
    if (FINISHED.has(found.job.phase) || found.job.batch?.status === 'Complete')
      throw new DomainError('InvalidState', `Job ${id} already finished: there is nothing to cancel.`);
    const at = now().toISOString();
    const job: JobRecord = {
      ...structuredClone(found.job),
      phase: 'cancelled',
      lease: undefined,
      finishedAt: at,
      updatedAt: at,
    };
    if ((await records.replace(job, found.etag)) === undefined) continue;
    await records.finished(job);
    return { job, cancelledNow: true };
  }
  // Not InvalidState (the job finished: retrying changes nothing): this one is worth retrying.
  throw new DomainError('ConcurrentModification', `Job ${id} changed while cancelling it; try again.`);
}
