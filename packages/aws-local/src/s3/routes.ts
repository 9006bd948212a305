import type { Reply, S3Deps, S3Request } from './context.js';
import { S3Error } from './errors.js';
import {
  deleteBucketCors,
  deleteObjects,
  getBucketCors,
  getBucketLocation,
  headBucket,
  listBuckets,
  listObjects,
  putBucketCors,
} from './ops-buckets.js';
import { copyObject } from './ops-copy.js';
import {
  abortMultipartUpload,
  completeMultipartUpload,
  createMultipartUpload,
  listParts,
  uploadPart,
} from './ops-multipart.js';
import { deleteObject, getObject, putObject } from './ops-objects.js';
import { header } from './payload.js';

/**
 * Which operation a path-style request is: by method, by whether it names a bucket and a key,
 * and by its subresource (`?cors`, `?uploads`, `?uploadId`, …). Subresources S3 has and the local
 * S3 does not are NotImplemented (501), never mistaken for another operation.
 */

type Operation = (deps: S3Deps, r: S3Request) => Reply | Promise<Reply>;

const BUCKET_SUBRESOURCES_NOT_IMPLEMENTED = [
  'accelerate',
  'acl',
  'analytics',
  'encryption',
  'intelligent-tiering',
  'inventory',
  'lifecycle',
  'logging',
  'metrics',
  'notification',
  'object-lock',
  'ownershipControls',
  'policy',
  'policyStatus',
  'publicAccessBlock',
  'replication',
  'requestPayment',
  'tagging',
  'uploads',
  'versioning',
  'versions',
  'website',
];
const OBJECT_SUBRESOURCES_NOT_IMPLEMENTED = [
  'acl',
  'attributes',
  'legal-hold',
  'restore',
  'retention',
  'select',
  'tagging',
  'torrent',
];

const notImplemented = (what: string) =>
  new S3Error('NotImplemented', `${what} is an S3 operation the local S3 does not implement.`);

function methodNotAllowed(method: string, resource: string): S3Error {
  return new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.', {
    Method: method,
    ResourceType: resource,
  });
}

function bucketOperation(method: string, q: Map<string, string>): Operation {
  const unsupported = BUCKET_SUBRESOURCES_NOT_IMPLEMENTED.find((s) => q.has(s));
  if (q.has('cors')) {
    if (method === 'GET') return getBucketCors;
    if (method === 'PUT') return putBucketCors;
    if (method === 'DELETE') return deleteBucketCors;
    throw methodNotAllowed(method, 'CORS');
  }
  if (unsupported) throw notImplemented(`The bucket subresource ?${unsupported}`);
  switch (method) {
    case 'HEAD':
      return headBucket;
    case 'GET':
      return q.has('location') ? getBucketLocation : listObjects;
    case 'POST':
      if (q.has('delete')) return deleteObjects;
      throw notImplemented('POST (browser form upload)');
    case 'PUT':
      return (deps, r) => {
        if (deps.storage.buckets.has(r.bucket))
          throw new S3Error(
            'BucketAlreadyOwnedByYou',
            'Your previous request to create the named bucket succeeded and you already own it.',
            {
              BucketName: r.bucket,
            },
          );
        throw notImplemented('CreateBucket (the local S3 serves the buckets named when it starts)');
      };
    case 'DELETE':
      throw notImplemented('DeleteBucket');
    default:
      throw methodNotAllowed(method, 'BUCKET');
  }
}

function objectOperation(method: string, q: Map<string, string>, r: S3Request): Operation {
  const unsupported = OBJECT_SUBRESOURCES_NOT_IMPLEMENTED.find((s) => q.has(s));
  if (unsupported) throw notImplemented(`The object subresource ?${unsupported}`);
  const copy = header(r.req.headers, 'x-amz-copy-source') !== undefined;
  switch (method) {
    case 'GET':
      return q.has('uploadId') ? listParts : (deps, req) => getObject(deps, req, false);
    case 'HEAD':
      return (deps, req) => getObject(deps, req, true);
    case 'PUT':
      if (q.has('uploadId') || q.has('partNumber')) {
        if (copy) throw notImplemented('UploadPartCopy');
        return uploadPart;
      }
      return copy ? copyObject : putObject;
    case 'DELETE':
      return q.has('uploadId') ? abortMultipartUpload : deleteObject;
    case 'POST':
      if (q.has('uploads')) return createMultipartUpload;
      if (q.has('uploadId')) return completeMultipartUpload;
      throw methodNotAllowed(method, 'OBJECT');
    default:
      throw methodNotAllowed(method, 'OBJECT');
  }
}

/** The operation of an authenticated request. */
export function route(r: S3Request): Operation {
  const method = r.req.method ?? 'GET';
  if (r.bucket === '') {
    if (method === 'GET') return (deps) => listBuckets(deps);
    throw methodNotAllowed(method, 'SERVICE');
  }
  return r.key === '' ? bucketOperation(method, r.query) : objectOperation(method, r.query, r);
}
