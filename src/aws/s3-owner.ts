import type { S3Client } from '@aws-sdk/client-s3';

/**
 * S3's bucket owner condition on every call of the service
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html): each
 * request that names a bucket says which account must own it (`ExpectedBucketOwner`, the
 * `x-amz-expected-bucket-owner` header), and a copy also its source's (`ExpectedSourceBucketOwner`,
 * `x-amz-source-expected-bucket-owner`); S3 refuses a bucket of another account with 403
 * AccessDenied. A bucket name that ends up naming someone else's bucket (a typo, a deleted bucket
 * re-created elsewhere, another stage's name) then fails instead of sending documents there.
 *
 * Not on presigned URLs (`forPresigning`). The JavaScript presigner hoists the parameter into the
 * signed query string (`x-amz-expected-bucket-owner=…`, not a signed header: the browser would have
 * nothing to send), but S3's documentation defines the bucket owner condition as a request header
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html, "x-amz-expected-bucket-owner")
 * and says nothing of it in a presigned URL's query string
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html). The links stay
 * without it, so nothing depends on undocumented behaviour; the service's own calls around them
 * (CreateMultipartUpload, the seal's reads, HeadObject before a download) carry it.
 */

/** The inputs of commands presigned rather than sent: the middleware leaves them alone. */
const presigned = new WeakSet<object>();

/** Marks a command as one to presign: no expected owner is added to its URL (see above). */
export function forPresigning<C extends { input: object }>(command: C): C {
  presigned.add(command.input);
  return command;
}

/** The middleware's name in the client's stack. */
export const EXPECTED_OWNER_MIDDLEWARE = 'eaasExpectedBucketOwner';

/**
 * Adds to `client` the middleware that sets `ExpectedBucketOwner` (and, on a copy,
 * `ExpectedSourceBucketOwner`) to `accountId` on every command whose input names a `Bucket` and
 * leaves them unset. The input is copied, never changed in place.
 */
export function expectBucketOwner<C extends S3Client>(client: C, accountId: string): C {
  client.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as Record<string, unknown>;
      if (typeof input.Bucket !== 'string' || presigned.has(input)) return next(args);
      const owned: Record<string, unknown> = { ...input };
      owned.ExpectedBucketOwner ??= accountId;
      // CopyObject and UploadPartCopy: the source bucket is the service's too.
      if (input.CopySource !== undefined) owned.ExpectedSourceBucketOwner ??= accountId;
      return next({ ...args, input: owned });
    },
    { step: 'initialize', name: EXPECTED_OWNER_MIDDLEWARE, override: true },
  );
  return client;
}
