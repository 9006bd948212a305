import { describe, expect, it } from 'vitest';
import { fromS3Error } from '../../src/aws/s3-errors.js';
import { DomainError } from '../../src/core/errors.js';

/** The one mapping of S3's answers to the service's errors, shared by every S3 adapter. */

const answer = (name: string, status?: number) =>
  Object.assign(new Error(name), {
    name,
    ...(status !== undefined ? { $metadata: { httpStatusCode: status } } : {}),
  });

describe('fromS3Error', () => {
  it.each([
    ['a failed condition', answer('PreconditionFailed', 412), 'PreconditionFailed'],
    ['two conditional writes overlapping', answer('ConditionalRequestConflict', 409), 'PreconditionFailed'],
    ['a missing object', answer('NoSuchKey', 404), 'NotFound'],
    ['parts S3 refuses', answer('InvalidPart', 400), 'ValidationError'],
    ['throttling', answer('SlowDown', 503), 'Throttled'],
    ['a 5xx', answer('InternalError', 500), 'DependencyFailure'],
    ['no answer at all', answer('ECONNRESET'), 'DependencyFailure'],
    ["S3 refusing the service's own request", answer('AccessDenied', 403), 'InternalError'],
  ])('maps %s to %s', (_what, error, code) => {
    const mapped = fromS3Error(error, 'doc');
    expect(mapped.code).toBe(code);
    if (code !== 'ValidationError') expect(mapped.cause).toBe(error);
  });

  it("names the object and S3's code, and passes the service's own errors as they are", () => {
    expect(fromS3Error(answer('AccessDenied', 403), 'a/doc').message).toBe(
      'S3 refused a request on a/doc: AccessDenied.',
    );
    const own = new DomainError('Throttled', 'mine');
    expect(fromS3Error(own, 'doc')).toBe(own);
  });
});
