import type { EncryptionContext } from '@eaas/aws-rules';
import { DomainError } from '../core/errors.js';
import { personConditions, personOf } from '../core/person.js';
import { type JobRecord, SCHEDULED_BY, starterMayRewrap } from '../core/rewrap-job.js';
import type { AccessControl } from './access.js';

/** A KMS or S3 call under the job's rate ceiling and retries. */
export type JobCall = <T>(kms: boolean, fn: () => Promise<T>) => Promise<T>;

/**
 * Whom a job acts for, read afresh before each page (one key policy read per key, not the access
 * cache): whether its starter may move an object stored with a given encryption context
 * (`starterMayRewrap`: it administers both keys, and no Deny but the administrators' own, which
 * the service writes, refuses it ReEncrypt on them). Scheduled campaigns (`createdBy: schedule`,
 * records only the operator makes) run with the service's authority. A key whose policy cannot be
 * read authorizes nothing; a read still throttled or failing after the retries fails the page,
 * tried again next tick.
 */
export async function jobAuthority(
  access: Pick<AccessControl, 'policyDecisions'>,
  job: JobRecord,
  call: JobCall,
  log: (message: string, fields: Record<string, unknown>) => void,
): Promise<(context: EncryptionContext) => boolean> {
  if (job.createdBy === SCHEDULED_BY) return () => true;
  const starter = {
    arn: job.createdByArn ?? job.createdBy,
    conditions: personConditions(personOf(job.createdByPerson)),
  };
  const { sourceKeyArn, destinationKeyArn } = job.spec;
  try {
    const read = (keyArn: string) => call(false, () => access.policyDecisions(starter, keyArn));
    const source = await read(sourceKeyArn);
    const destination = destinationKeyArn === sourceKeyArn ? source : await read(destinationKeyArn);
    return (context) => starterMayRewrap(source, destination, context);
  } catch (error) {
    if (!(error instanceof DomainError) || error.code === 'Throttled' || error.code === 'DependencyFailure')
      throw error;
    log('re-encryption job keys unreadable: nothing authorized', { jobId: job.id, error: error.code });
    return () => false;
  }
}
