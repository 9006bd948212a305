import type { Reply, S3Deps, S3Request } from './context.js';
import { bucketEncryptionFrom, bucketEncryptionXml } from './encryption.js';
import { S3Error } from './errors.js';
import { receiveSmallBody } from './intake.js';
import { planPayload } from './payload.js';
import { readXmlRequest } from './xml-request.js';

/**
 * A bucket's policy (Get/Put/DeleteBucketPolicy) and default encryption
 * (Get/Put/DeleteBucketEncryption), kept with the bucket like its CORS rules.
 */

/** Bodies larger than a policy may be are refused as they arrive. */
const MAX_POLICY_REQUEST_BYTES = 64 * 1024;

export function getBucketPolicy(deps: S3Deps, r: S3Request): Reply {
  const policy = deps.storage.bucket(r.bucket).policy;
  if (policy === undefined)
    throw new S3Error('NoSuchBucketPolicy', 'The bucket policy does not exist', { BucketName: r.bucket });
  return { status: 200, headers: { 'Content-Type': 'application/json' }, body: policy };
}

/** PutBucketPolicy: the policy is the JSON body (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html). */
export async function putBucketPolicy(deps: S3Deps, r: S3Request): Promise<Reply> {
  const bucket = deps.storage.bucket(r.bucket);
  const plan = planPayload(r.req.headers, r.caller.contentSha256, r.caller.chunkSigning);
  r.acceptBody();
  const body = await receiveSmallBody(r.req, plan, deps.storage.scratchFile(), MAX_POLICY_REQUEST_BYTES);
  bucket.setPolicy(body.toString('utf8'));
  return { status: 204 };
}

export function deleteBucketPolicy(deps: S3Deps, r: S3Request): Reply {
  deps.storage.bucket(r.bucket).setPolicy(undefined);
  return { status: 204 };
}

/** A bucket without a configuration answers SSE-S3, every bucket's default encryption. */
export function getBucketEncryption(deps: S3Deps, r: S3Request): Reply {
  return {
    status: 200,
    headers: { 'Content-Type': 'application/xml' },
    body: bucketEncryptionXml(deps.storage.bucket(r.bucket).encryption),
  };
}

export async function putBucketEncryption(deps: S3Deps, r: S3Request): Promise<Reply> {
  const bucket = deps.storage.bucket(r.bucket);
  bucket.setEncryption(
    bucketEncryptionFrom(await readXmlRequest(deps, r, 'ServerSideEncryptionConfiguration')),
  );
  return { status: 200 };
}

/** Back to SSE-S3 (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucketEncryption.html). */
export function deleteBucketEncryption(deps: S3Deps, r: S3Request): Reply {
  deps.storage.bucket(r.bucket).setEncryption(undefined);
  return { status: 204 };
}
