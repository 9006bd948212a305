import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetBucketCorsCommand,
  GetBucketInventoryConfigurationCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutBucketInventoryConfigurationCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf } from '../helpers/errors.js';
import { startTestS3, type TestS3 } from '../helpers/local-s3.js';

/**
 * The documented errors of each S3 operation the local S3 implements, driven through
 * @aws-sdk/client-s3 over HTTP. Each case names the API reference page it comes from; the codes
 * and statuses are those of https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
 * ("List of error codes"). A HEAD answer has no body, so the SDK names it by its status
 * (NotFound, 304...), as it does against S3.
 */

const API = 'https://docs.aws.amazon.com/AmazonS3/latest/API';
const Bucket = 'eaas-vault';
const MISSING_BUCKET = 'no-such-bucket-here';
const MiB = 1024 * 1024;

let t: TestS3;
let s3: S3Client;
let etag: string;

beforeAll(async () => {
  t = await startTestS3();
  s3 = t.client();
  etag = (await s3.send(new PutObjectCommand({ Bucket, Key: 'present', Body: '0123456789' }))).ETag ?? '';
});
afterAll(async () => {
  await t.stop();
});

async function startUpload(Key: string): Promise<string> {
  return (await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }))).UploadId ?? '';
}

describe(`GetObject (${API}/API_GetObject.html)`, () => {
  it('a missing key is NoSuchKey (404)', async () => {
    expect(await errorOf(s3.send(new GetObjectCommand({ Bucket, Key: 'absent' })))).toMatchObject({
      name: 'NoSuchKey',
      status: 404,
    });
  });
  it('a missing bucket is NoSuchBucket (404)', async () => {
    expect(await errorOf(s3.send(new GetObjectCommand({ Bucket: MISSING_BUCKET, Key: 'x' })))).toMatchObject({
      name: 'NoSuchBucket',
      status: 404,
    });
  });
  it('If-Match with another ETag is PreconditionFailed (412)', async () => {
    expect(
      await errorOf(s3.send(new GetObjectCommand({ Bucket, Key: 'present', IfMatch: '"0000"' }))),
    ).toMatchObject({ name: 'PreconditionFailed', status: 412 });
  });
  it('If-None-Match with its ETag is Not Modified (304)', async () => {
    expect(
      await errorOf(s3.send(new GetObjectCommand({ Bucket, Key: 'present', IfNoneMatch: etag }))),
    ).toMatchObject({ status: 304 });
  });
  it('If-Unmodified-Since before its last change is PreconditionFailed (412)', async () => {
    const IfUnmodifiedSince = new Date(Date.now() - 86_400_000);
    expect(
      await errorOf(s3.send(new GetObjectCommand({ Bucket, Key: 'present', IfUnmodifiedSince }))),
    ).toMatchObject({ name: 'PreconditionFailed', status: 412 });
  });
  it('a Range starting past the end is InvalidRange (416)', async () => {
    expect(
      await errorOf(s3.send(new GetObjectCommand({ Bucket, Key: 'present', Range: 'bytes=100-' }))),
    ).toMatchObject({ name: 'InvalidRange', status: 416 });
  });
});

describe(`HeadObject (${API}/API_HeadObject.html)`, () => {
  it('a missing key is 404 Not Found, without a body', async () => {
    expect(await errorOf(s3.send(new HeadObjectCommand({ Bucket, Key: 'absent' })))).toMatchObject({
      name: 'NotFound',
      status: 404,
    });
  });
  it('If-Match with another ETag is 412', async () => {
    expect(
      await errorOf(s3.send(new HeadObjectCommand({ Bucket, Key: 'present', IfMatch: '"0000"' }))),
    ).toMatchObject({ status: 412 });
  });
});

describe(`PutObject (${API}/API_PutObject.html)`, () => {
  it('a missing bucket is NoSuchBucket (404)', async () => {
    expect(
      await errorOf(s3.send(new PutObjectCommand({ Bucket: MISSING_BUCKET, Key: 'x', Body: 'x' }))),
    ).toMatchObject({ name: 'NoSuchBucket', status: 404 });
  });
  it('If-None-Match: * on an existing key is PreconditionFailed (412)', async () => {
    expect(
      await errorOf(s3.send(new PutObjectCommand({ Bucket, Key: 'present', Body: 'x', IfNoneMatch: '*' }))),
    ).toMatchObject({ name: 'PreconditionFailed', status: 412 });
  });
  it('a Content-MD5 that does not match the body is BadDigest (400)', async () => {
    expect(
      await errorOf(
        s3.send(
          new PutObjectCommand({
            Bucket,
            Key: 'md5',
            Body: 'x',
            ContentMD5: Buffer.alloc(16).toString('base64'),
          }),
        ),
      ),
    ).toMatchObject({ name: 'BadDigest', status: 400 });
  });
});

describe(`DeleteObject (${API}/API_DeleteObject.html)`, () => {
  it('a missing key succeeds (204): deleting is idempotent in a bucket without versioning', async () => {
    const out = await s3.send(new DeleteObjectCommand({ Bucket, Key: 'never-there' }));
    expect(out.$metadata.httpStatusCode).toBe(204);
  });
  it('a missing bucket is NoSuchBucket (404)', async () => {
    expect(
      await errorOf(s3.send(new DeleteObjectCommand({ Bucket: MISSING_BUCKET, Key: 'x' }))),
    ).toMatchObject({
      name: 'NoSuchBucket',
      status: 404,
    });
  });
});

describe(`CopyObject (${API}/API_CopyObject.html)`, () => {
  it('a missing source key is NoSuchKey (404)', async () => {
    expect(
      await errorOf(s3.send(new CopyObjectCommand({ Bucket, Key: 'copy', CopySource: `${Bucket}/absent` }))),
    ).toMatchObject({ name: 'NoSuchKey', status: 404 });
  });
  it('x-amz-copy-source-if-match with another ETag is PreconditionFailed (412)', async () => {
    expect(
      await errorOf(
        s3.send(
          new CopyObjectCommand({
            Bucket,
            Key: 'copy',
            CopySource: `${Bucket}/present`,
            CopySourceIfMatch: '"0000"',
          }),
        ),
      ),
    ).toMatchObject({ name: 'PreconditionFailed', status: 412 });
  });
});

describe(`ListObjectsV2 (${API}/API_ListObjectsV2.html)`, () => {
  it('a missing bucket is NoSuchBucket (404)', async () => {
    expect(await errorOf(s3.send(new ListObjectsV2Command({ Bucket: MISSING_BUCKET })))).toMatchObject({
      name: 'NoSuchBucket',
      status: 404,
    });
  });
});

describe(`HeadBucket (${API}/API_HeadBucket.html)`, () => {
  it('a missing bucket is 404 Not Found, without a body', async () => {
    expect(await errorOf(s3.send(new HeadBucketCommand({ Bucket: MISSING_BUCKET })))).toMatchObject({
      name: 'NotFound',
      status: 404,
    });
  });
});

describe(`GetBucketCors (${API}/API_GetBucketCors.html)`, () => {
  it('a bucket without CORS rules is NoSuchCORSConfiguration (404)', async () => {
    expect(await errorOf(s3.send(new GetBucketCorsCommand({ Bucket })))).toMatchObject({
      name: 'NoSuchCORSConfiguration',
      status: 404,
    });
  });
});

describe(`GetBucketInventoryConfiguration (${API}/API_GetBucketInventoryConfiguration.html)`, () => {
  it('an id the bucket has no configuration for is NoSuchConfiguration (404)', async () => {
    expect(
      await errorOf(s3.send(new GetBucketInventoryConfigurationCommand({ Bucket, Id: 'none' }))),
    ).toMatchObject({ name: 'NoSuchConfiguration', status: 404 });
  });
  it('a missing bucket is NoSuchBucket (404)', async () => {
    expect(
      await errorOf(s3.send(new GetBucketInventoryConfigurationCommand({ Bucket: MISSING_BUCKET, Id: 'x' }))),
    ).toMatchObject({ name: 'NoSuchBucket', status: 404 });
  });
});

describe(`PutBucketInventoryConfiguration (${API}/API_PutBucketInventoryConfiguration.html)`, () => {
  it('a configuration that is not valid is InvalidArgument (400)', async () => {
    const config = {
      Id: 'other-id',
      IsEnabled: true,
      Destination: { S3BucketDestination: { Bucket: 'arn:aws:s3:::eaas-staging', Format: 'CSV' as const } },
      IncludedObjectVersions: 'Current' as const,
      Schedule: { Frequency: 'Daily' as const },
    };
    expect(
      await errorOf(
        s3.send(
          new PutBucketInventoryConfigurationCommand({ Bucket, Id: 'x', InventoryConfiguration: config }),
        ),
      ),
    ).toMatchObject({ name: 'InvalidArgument', status: 400 });
  });
});

describe(`CreateMultipartUpload (${API}/API_CreateMultipartUpload.html)`, () => {
  it('a missing bucket is NoSuchBucket (404)', async () => {
    expect(
      await errorOf(s3.send(new CreateMultipartUploadCommand({ Bucket: MISSING_BUCKET, Key: 'x' }))),
    ).toMatchObject({ name: 'NoSuchBucket', status: 404 });
  });
});

describe(`UploadPart (${API}/API_UploadPart.html)`, () => {
  it('an unknown upload id is NoSuchUpload (404)', async () => {
    expect(
      await errorOf(
        s3.send(new UploadPartCommand({ Bucket, Key: 'x', UploadId: 'nope', PartNumber: 1, Body: 'x' })),
      ),
    ).toMatchObject({ name: 'NoSuchUpload', status: 404 });
  });
  it('a part number outside 1-10,000 is InvalidArgument (400)', async () => {
    const UploadId = await startUpload('part-number');
    expect(
      await errorOf(
        s3.send(
          new UploadPartCommand({ Bucket, Key: 'part-number', UploadId, PartNumber: 10_001, Body: 'x' }),
        ),
      ),
    ).toMatchObject({ name: 'InvalidArgument', status: 400 });
  });
});

describe(`CompleteMultipartUpload (${API}/API_CompleteMultipartUpload.html)`, () => {
  it('a part other than the last under 5 MiB is EntityTooSmall (400)', async () => {
    const Key = 'small-parts';
    const UploadId = await startUpload(Key);
    const parts = [];
    for (const PartNumber of [1, 2]) {
      const out = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: 'tiny' }));
      parts.push({ PartNumber, ETag: out.ETag ?? '' });
    }
    expect(
      await errorOf(
        s3.send(
          new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }),
        ),
      ),
    ).toMatchObject({ name: 'EntityTooSmall', status: 400 });
  });
  it('a part whose ETag does not match is InvalidPart (400)', async () => {
    const Key = 'wrong-etag';
    const UploadId = await startUpload(Key);
    await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: 'x' }));
    const Parts = [{ PartNumber: 1, ETag: '"00000000000000000000000000000000"' }];
    expect(
      await errorOf(
        s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } })),
      ),
    ).toMatchObject({ name: 'InvalidPart', status: 400 });
  });
  it('parts not in ascending order are InvalidPartOrder (400)', async () => {
    const Key = 'order';
    const UploadId = await startUpload(Key);
    const big = Buffer.alloc(5 * MiB, 1);
    const one = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: big }));
    const two = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 2, Body: 'end' }));
    const Parts = [
      { PartNumber: 2, ETag: two.ETag ?? '' },
      { PartNumber: 1, ETag: one.ETag ?? '' },
    ];
    expect(
      await errorOf(
        s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } })),
      ),
    ).toMatchObject({ name: 'InvalidPartOrder', status: 400 });
  });
  it('an unknown upload id is NoSuchUpload (404)', async () => {
    const Parts = [{ PartNumber: 1, ETag: '"00000000000000000000000000000000"' }];
    expect(
      await errorOf(
        s3.send(
          new CompleteMultipartUploadCommand({
            Bucket,
            Key: 'x',
            UploadId: 'nope',
            MultipartUpload: { Parts },
          }),
        ),
      ),
    ).toMatchObject({ name: 'NoSuchUpload', status: 404 });
  });
});

describe(`AbortMultipartUpload (${API}/API_AbortMultipartUpload.html)`, () => {
  it('an unknown upload id is NoSuchUpload (404)', async () => {
    expect(
      await errorOf(s3.send(new AbortMultipartUploadCommand({ Bucket, Key: 'x', UploadId: 'nope' }))),
    ).toMatchObject({ name: 'NoSuchUpload', status: 404 });
  });
});

describe(`ListParts (${API}/API_ListParts.html)`, () => {
  it('an unknown upload id is NoSuchUpload (404)', async () => {
    expect(
      await errorOf(s3.send(new ListPartsCommand({ Bucket, Key: 'x', UploadId: 'nope' }))),
    ).toMatchObject({
      name: 'NoSuchUpload',
      status: 404,
    });
  });
});
