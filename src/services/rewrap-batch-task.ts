import type { EncryptionContext } from '@eaas/aws-rules';
import { DomainError } from '../core/errors.js';
import { isDocumentKey } from '../core/reserved-keys.js';
import {
  type BatchTaskResult,
  decodeTaskKey,
  JOB_ARGUMENT,
  JOB_REFUSED,
  NOT_A_DOCUMENT,
  RESULT,
  type S3BatchEventV2,
  type S3BatchResultV2,
  taskResult,
} from '../core/rewrap-batch.js';
import { FINISHED, type JobRecord } from '../core/rewrap-job.js';
import type { JobObjects, Keys } from '../ports.js';
import type { AccessControl } from './access.js';
import { jobAuthority } from './rewrap-authority.js';
import { CANCELLED, rewrapObject } from './rewrap-object.js';
import { isRetryable, RateLimiter, type RetryOptions, withRetry } from './rewrap-retry.js';

export interface BatchTaskOptions {
  /** The vault bucket, and the object prefix in front of every document key. */
  vaultBucket: string;
  objectPrefix: string;
  /** Ceiling on KMS requests a second per function instance (0: none). */
  kmsPerSecond?: number | undefined;
  /** The function's own retries of a throttled or failing call, before S3's (TemporaryFailure). */
  retry?: RetryOptions | undefined;
  /**
   * How long a warm instance keeps a job's record and its starter's rights (the key policies)
   * before reading them again: a cancel or a starter removed from a key policy takes effect
   * within it. 10 s by default.
   */
  authorityMs?: number | undefined;
  now?: () => Date;
  log?: (message: string, fields: Record<string, unknown>) => void;
  onRewrapped?: (count: number) => void;
  /** Test hook, as the scheduled engine's (`RunOptions.step`): may throw to simulate a crash. */
  step?: (name: string, key?: string) => void | Promise<void>;
}

interface Authority {
  at: number;
  job: JobRecord | undefined;
  authorized: (context: EncryptionContext) => boolean;
}

/**
 * The per-object function of the batch engine: S3 Batch Operations invokes it for each object
 * of the manifest (LambdaInvoke, invocation schema 2.0), with the eaas job id in the user
 * arguments. For each task it loads the job's record (a batch job, not finished; a cancelled one
 * only completes the copies it left half done), checks the key
 * is a document under the job's prefix, and re-wraps it with the scheduled engine's own code
 * (`rewrapObject`: selection by metadata, the starter's right with the object's context, KMS
 * ReEncrypt, the conditional writes; the body is never read), answering `Succeeded`,
 * `TemporaryFailure` (throttled, 5xx, lost races: S3 invokes the task again) or
 * `PermanentFailure` with the reason.
 *
 * Invoked twice for one task, it re-wraps once: the second finds the object under the
 * destination (`already re-wrapped`), or the first's instruction-file mark, and only completes
 * the copy.
 */
export class RewrapBatchTasks {
  private readonly limiter: RateLimiter;
  private readonly now: () => Date;
  private readonly authorities = new Map<string, Authority>();

  constructor(
    private readonly keys: Keys,
    private readonly access: Pick<AccessControl, 'policyDecisions'>,
    /** The documents, keys relative to the service's object prefix. */
    private readonly objects: JobObjects,
    /** The job records (`JobRecords.load`). */
    private readonly records: {
      load(id: string): Promise<{ job: JobRecord; etag: string } | undefined>;
    },
    private readonly options: BatchTaskOptions,
  ) {
    this.limiter = new RateLimiter(options.kmsPerSecond ?? 0);
    this.now = options.now ?? (() => new Date());
  }

  async handle(event: S3BatchEventV2): Promise<S3BatchResultV2> {
    const results: BatchTaskResult[] = [];
    for (const task of event.tasks) {
      const jobId = event.job.userArguments?.[JOB_ARGUMENT];
      results.push({ taskId: task.taskId, ...(await this.task(jobId, task)) });
    }
    return {
      invocationSchemaVersion: '2.0',
      treatMissingKeysAs: 'PermanentFailure',
      invocationId: event.invocationId,
      results,
    };
  }

  private async task(
    jobId: string | undefined,
    task: S3BatchEventV2['tasks'][number],
  ): Promise<Omit<BatchTaskResult, 'taskId'>> {
    try {
      if (!jobId) return refused('no eaas job id in the user arguments');
      const authority = await this.authority(jobId);
      const job = authority.job;
      if (!job) return refused(`no job ${jobId}`);
      if (job.engine !== 'batch') return refused(`job ${jobId} is not run by S3 Batch Operations`);
      // A cancelled job still completes the copies it left half done (finish-only: from the
      // instruction file's mark, no ReEncrypt, nothing else written), so that a redrive of a task
      // cut off between its two writes leaves the metadata naming the key the data key is under.
      // Every other task of it is refused.
      if (FINISHED.has(job.phase) && job.phase !== 'cancelled')
        return refused(`job ${jobId} is ${job.phase}`);
      const finishOnly = job.phase === 'cancelled';
      const key = this.documentKey(task.s3Bucket, task.s3Key);
      if (key === undefined) return { resultCode: 'PermanentFailure', resultString: NOT_A_DOCUMENT };
      // A vault key outside the object prefix: an S3 Inventory report lists the whole bucket (or
      // its own prefix filter), the service's records at its root included. Not a failure.
      if (key === OUTSIDE_OBJECT_PREFIX)
        return { resultCode: 'Succeeded', resultString: 'skipped: outside-object-prefix' };
      // Instruction files and the service's records: the manifest generator lists them beside the
      // documents (its filter has prefixes only); each is handled with its document, or not at all.
      if (!isDocumentKey(key))
        return { resultCode: 'Succeeded', resultString: `${RESULT.skipped}not-a-document` };
      if (!key.startsWith(job.spec.prefix))
        return { resultCode: 'Succeeded', resultString: `${RESULT.skipped}outside-prefix` };
      const call = <T>(kms: boolean, fn: () => Promise<T>) =>
        withRetry(async () => {
          if (kms) await this.limiter.acquire();
          return fn();
        }, this.options.retry);
      const outcome = await rewrapObject(
        {
          keys: this.keys,
          objects: this.objects,
          now: this.now,
          call,
          step: async (name, k) => {
            await this.options.step?.(name, k);
          },
          authorized: authority.authorized,
          finishOnly,
        },
        job.spec,
        key,
      );
      if (finishOnly && outcome.kind === 'skipped' && outcome.reason === CANCELLED)
        return refused(`job ${jobId} is cancelled`);
      if (outcome.kind === 'rewrapped' && !job.spec.dryRun) this.options.onRewrapped?.(1);
      const result = taskResult(outcome, job.spec.dryRun);
      this.options.log?.('re-encryption batch task', {
        jobId,
        resultCode: result.resultCode,
        resultString: result.resultString,
      });
      return result;
    } catch (error) {
      // Throttled or failing after the function's own retries, or anything unexpected (a crash
      // mid-object): S3 invokes the task again, and the object's marks make the retry finish the
      // work without doing it twice. Its code only: never a message that could carry a secret.
      const code = error instanceof DomainError ? error.code : 'InternalError';
      this.options.log?.('re-encryption batch task failed', { jobId, error: code });
      if (error instanceof DomainError && !isRetryable(error))
        return { resultCode: 'PermanentFailure', resultString: `failed: ${code}` };
      return { resultCode: 'TemporaryFailure', resultString: `retry: ${code}` };
    }
  }

  /**
   * The job's record and its starter's rights, read at most every `authorityMs` per warm
   * instance (the scheduled engine reads them once a page).
   */
  private async authority(jobId: string): Promise<Authority> {
    const now = this.now().getTime();
    const cached = this.authorities.get(jobId);
    if (cached && now - cached.at < (this.options.authorityMs ?? 10_000)) return cached;
    const found = await withRetry(() => this.records.load(jobId), this.options.retry);
    const job = found?.job;
    const authorized =
      job?.engine === 'batch'
        ? await jobAuthority(
            this.access,
            job,
            (_kms, fn) => withRetry(fn, this.options.retry),
            (m, f) => this.options.log?.(m, f),
          )
        : () => false;
    const authority = { at: now, job, authorized };
    this.authorities.set(jobId, authority);
    return authority;
  }

  /**
   * The document key of a task: the vault bucket's key behind the object prefix, decoded as S3
   * Batch Operations encodes it (`decodeTaskKey`: a space arrives as `+`; the event's keys are
   * URL-encoded, as the manifest's are:
   * https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-invoke-lambda.html);
   * `OUTSIDE_OBJECT_PREFIX` for a vault key outside the object prefix; undefined for any other
   * bucket or a key that does not decode.
   */
  private documentKey(bucket: string, encoded: string): string | typeof OUTSIDE_OBJECT_PREFIX | undefined {
    if (bucket !== this.options.vaultBucket) return undefined;
    const key = decodeTaskKey(encoded);
    if (key === undefined) return undefined;
    if (!key.startsWith(this.options.objectPrefix)) return OUTSIDE_OBJECT_PREFIX;
    return key.slice(this.options.objectPrefix.length);
  }
}

/** A vault key the service does not keep documents under (its records, another team's objects). */
const OUTSIDE_OBJECT_PREFIX: unique symbol = Symbol('outside the object prefix');

const refused = (why: string): Omit<BatchTaskResult, 'taskId'> => ({
  resultCode: 'PermanentFailure',
  resultString: `${JOB_REFUSED} ${why}`,
});
