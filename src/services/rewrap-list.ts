import { normalisePrincipal } from '@eaas/aws-rules';
import { KeyNotFoundError } from '../core/errors.js';
import type { Person } from '../core/person.js';
import { FINISHED, type JobRecord } from '../core/rewrap-job.js';
import type { AuditDecision } from '../ports.js';
import { type AccessControl, auditDecision, type Caller } from './access.js';
import type { JobRecords } from './rewrap-records.js';
import { starterOf } from './rewrap-starters.js';

/** Batch jobs of one listing page read back from S3 at once (DescribeJob): a small, fixed load. */
const LIST_REFRESHES = 4;

type Found = { job: JobRecord; etag: string };

/** Who lists (`JobCaller`): a principal, a person signed in through the identity pool, its audit. */
export interface ListCaller extends Caller {
  person?: Person | undefined;
  record?: (decision: AuditDecision) => void;
}

export interface ListDeps {
  records: JobRecords;
  access: Pick<AccessControl, 'decide'>;
  /** A batch job's record brought up to S3's state, as its own view reads it. */
  refresh: (found: Found) => Promise<JobRecord>;
}

/**
 * The caller's own jobs (those it started: the same principal and, for a person, the same
 * person), newest first, one page of at most `limit`, from its own index
 * (`rewrap-starters.ts`): no other starter's job is read, and nothing says how many there are.
 * A job whose keys the caller no longer administers, or that no longer exist, is left out, as
 * GET /v1/jobs/{id} refuses it; a page may so hold fewer than `limit`, and still have a `next`.
 */
export async function listJobs(
  deps: ListDeps,
  caller: ListCaller,
  limit: number,
  cursor: string | undefined,
): Promise<{ jobs: JobRecord[]; next?: string }> {
  const principal = normalisePrincipal(caller.arn);
  const identityId = caller.person?.identityId;
  const page = await deps.records.starters.page(starterOf(principal, identityId), limit, cursor);
  const decided = new Map<string, Promise<boolean>>();
  const administers = (keyArn: string) => {
    let allowed = decided.get(keyArn);
    if (!allowed) {
      allowed = deps.access.decide(caller, { keyId: keyArn, action: 'kms:PutKeyPolicy' }).then(
        ({ decision }) => {
          caller.record?.(auditDecision('kms:PutKeyPolicy', keyArn, decision));
          return decision.allowed;
        },
        // A key deleted since (KMS deletes a key 7 to 30 days after it is scheduled) is one
        // nobody administers: its jobs are left out, never failing the whole listing. Other
        // failures (throttling, an outage) fail the page, so that retrying shows every job.
        (error: unknown) => {
          if (error instanceof KeyNotFoundError) return false;
          throw error;
        },
      );
      decided.set(keyArn, allowed);
    }
    return allowed;
  };
  const found = await Promise.all(page.ids.map((id) => deps.records.load(id)));
  const shown: Found[] = [];
  for (const record of found) {
    const job = record?.job;
    // The record itself names the starter: a marker never shows another caller's job.
    if (!job || job.createdBy !== principal || job.createdByPerson?.identityId !== identityId) continue;
    const keys = [...new Set([job.spec.destinationKeyArn, job.spec.sourceKeyArn])];
    const allowed = await Promise.all(keys.map(administers));
    if (allowed.every(Boolean)) shown.push(record);
  }
  return { jobs: await refreshed(deps, shown), ...(page.next ? { next: page.next } : {}) };
}

/**
 * The listed records as GET /v1/jobs/{id} would show them: each unfinished batch job is brought
 * up to S3's state (`refresh`), as its own view is. Bounded: only the jobs shown on this page (at
 * most `limit`, 100) and only unfinished batch ones, each one DescribeJob (never its report:
 * the tick counts it), none once S3 said Complete, at most LIST_REFRESHES at a time; one S3
 * cannot answer is shown as last read.
 */
async function refreshed(deps: ListDeps, shown: Found[]): Promise<JobRecord[]> {
  const jobs = shown.map((found) => found.job);
  const stale = shown.flatMap((found, i) =>
    found.job.engine === 'batch' && !FINISHED.has(found.job.phase) ? [i] : [],
  );
  let next = 0;
  const worker = async () => {
    while (next < stale.length) {
      const i = stale[next++] as number;
      jobs[i] = await deps.refresh(shown[i] as Found);
    }
  };
  await Promise.all(Array.from({ length: Math.min(LIST_REFRESHES, stale.length) }, worker));
  return jobs;
}
