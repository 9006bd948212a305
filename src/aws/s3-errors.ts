import { DomainError, ValidationError } from '../core/errors.js';

/**
 * The one translation of S3's answers into the service's errors, for every S3 adapter (documents,
 * staging, job records, quota records):
 *
 * - a failed condition is PreconditionFailed: 412, or 409 ConditionalRequestConflict when two
 *   conditional writes of one key overlap
 *   (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html, If-None-Match);
 * - a missing object is NotFound (reads that may find nothing answer `undefined` instead);
 * - parts S3 refuses when completing a multipart upload are the uploader's ValidationError;
 * - SlowDown / 503 is Throttled, any other 5xx or no answer at all DependencyFailure: both may
 *   be retried;
 * - any other 4xx is S3 refusing the service's own request (a misconfiguration or a bug): an
 *   InternalError, never retried as if S3 were down.
 *
 * The service's own errors pass as they are.
 */
export function fromS3Error(error: unknown, key: string): DomainError {
  if (error instanceof DomainError) return error;
  const name = (error as { name?: string })?.name ?? '';
  const status = statusOf(error);
  const options = { cause: error };
  if (status === 412 || name === 'PreconditionFailed' || name === 'ConditionalRequestConflict')
    return new DomainError(
      'PreconditionFailed',
      `The object ${key} changed, or exists, against the request's condition.`,
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
  return new DomainError(
    'InternalError',
    `S3 refused a request on ${key}: ${name || status}.`,
    undefined,
    options,
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
