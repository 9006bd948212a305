import { DomainError, ValidationError } from '../core/errors.js';

/**
 * The one translation of S3's answers into the service's errors, for every S3 adapter (documents,
 * staging, job records, quota records):
 *
 * - a failed condition (412) is PreconditionFailed: the object changed, or exists;
 * - 409 ConditionalRequestConflict (or OperationAborted) is Throttled: a conflicting operation on
 *   the key was under way, nothing was written, and S3 says to retry ("If a conflicting operation
 *   occurs during the upload S3 returns a 409 ConditionalRequestConflict response. On a 409
 *   failure you should retry the upload":
 *   https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html, If-None-Match); it says
 *   nothing of the condition, so it is never taken as a lost one;
 * - a missing object is NotFound (reads that may find nothing answer `undefined` instead);
 * - parts S3 refuses when completing a multipart upload are the uploader's ValidationError;
 * - SlowDown / 503 is Throttled, any other 5xx or no answer at all DependencyFailure: both may
 *   be retried;
 * - any other 4xx is S3 refusing the service's own request (a misconfiguration or a bug): an
 *   InternalError, never retried as if S3 were down, whose message tells the caller nothing of S3;
 *   S3's answer and the object's key are in its `cause` (an `S3RefusalError`), for the logs.
 *
 * The service's own errors pass as they are.
 */
export function fromS3Error(error: unknown, key: string): DomainError {
  if (error instanceof DomainError) return error;
  const name = (error as { name?: string })?.name ?? '';
  const status = statusOf(error);
  const options = { cause: error };
  if (status === 412 || name === 'PreconditionFailed')
    return new DomainError(
      'PreconditionFailed',
      `The object ${key} changed, or exists, against the request's condition.`,
      undefined,
      options,
    );
  if (CONFLICTS.has(name))
    return new DomainError(
      'Throttled',
      'A conflicting operation on the object was under way; retry.',
      undefined,
      options,
    );
  if (status === 404 || name === 'NoSuchKey' || name === 'NotFound')
    return new DomainError('NotFound', `No object ${JSON.stringify(key)}.`, undefined, options);
  if (PART_REFUSALS.has(name)) return new ValidationError(`S3 refused the parts of the upload: ${name}.`);
  if (status === 503 || name === 'SlowDown')
    return new DomainError('Throttled', 'S3 is throttling requests; retry with backoff.', undefined, options);
  if (status === undefined || status >= 500)
    return new DomainError(
      'DependencyFailure',
      'The object store did not answer as expected.',
      undefined,
      options,
    );
  return new DomainError('InternalError', 'The request failed because of an internal error.', undefined, {
    cause: new S3RefusalError(name || String(status), status, key, error),
  });
}

/**
 * What S3 answered when it refused one of the service's own requests: for logs, never for callers
 * (it names S3's error and the object's key).
 */
export class S3RefusalError extends Error {
  override readonly name = 'S3RefusalError';

  constructor(
    readonly s3Error: string,
    readonly status: number | undefined,
    readonly key: string,
    cause: unknown,
  ) {
    super(`S3 refused a request on ${JSON.stringify(key)}: ${s3Error}${status ? ` (${status})` : ''}.`, {
      cause,
    });
  }
}

/** S3's 409s that report a conflicting operation under way on the key: to be retried. */
const CONFLICTS = new Set(['ConditionalRequestConflict', 'OperationAborted']);

/** Whether `fromS3Error` answered a conflicting operation under way on the key (S3's 409). */
export function isConflict(error: unknown): boolean {
  return (
    error instanceof DomainError &&
    error.code === 'Throttled' &&
    CONFLICTS.has((error.cause as { name?: string } | undefined)?.name ?? '')
  );
}

/** CompleteMultipartUpload's refusals of the parts an uploader sent. */
const PART_REFUSALS = new Set(['InvalidPart', 'InvalidPartOrder', 'EntityTooSmall', 'NoSuchUpload']);

/** The HTTP status of an S3 SDK error, if S3 answered. */
export function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/** Whether S3 answered that the object is not there (reads answer `undefined` then). */
export function isMissing(error: unknown): boolean {
  return statusOf(error) === 404;
}

/** Whether a failure is an answer of S3 (as opposed to the body's own failure while streaming). */
export function isS3Answer(error: unknown): boolean {
  return (error as { $metadata?: unknown })?.$metadata !== undefined;
}
