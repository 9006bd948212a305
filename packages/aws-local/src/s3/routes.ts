import type { IncomingHttpHeaders } from 'node:http';
import type { Permission } from './access.js';
import type { Reply, S3Deps, S3Request } from './context.js';
import { S3Error } from './errors.js';
import {
  deleteBucketEncryption,
  deleteBucketPolicy,
  getBucketEncryption,
  getBucketPolicy,
  putBucketEncryption,
  putBucketPolicy,
} from './ops-bucket-config.js';
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
import { copyObject, copySourceOf } from './ops-copy.js';
import {
  deleteBucketInventory,
  getBucketInventory,
  listBucketInventories,
  putBucketInventory,
} from './ops-inventory.js';
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
 * S3 does not are NotImplemented (501), never mistaken for another operation. Each operation
 * names the IAM permissions it needs, as the Service Authorization Reference maps S3's API to
 * actions (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html), and the
 * buckets whose owner the request may expect.
 */

type Run = (deps: S3Deps, r: S3Request) => Reply | Promise<Reply>;

export interface Operation {
  /** The S3 API operation (PutObject, ListObjectsV2, ...). */
  name: string;
  /** What the caller must be allowed before it runs; DeleteObjects decides per key as it runs. */
  permissions: Permission[];
  /**
   * The buckets whose owning account the request may assert
   * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html): the
   * request's bucket in `x-amz-expected-bucket-owner`, a copy's source in
   * `x-amz-source-expected-bucket-owner`. None for CreateBucket and ListBuckets.
   */
  owners: Array<{ header: string; bucket: string }>;
  run: Run;
}

const BUCKET_SUBRESOURCES_NOT_IMPLEMENTED = [
  'accelerate',
  'acl',
  'analytics',
  'intelligent-tiering',
  'lifecycle',
  'logging',
  'metrics',
  'notification',
  'object-lock',
  'ownershipControls',
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

const OWNER = 'x-amz-expected-bucket-owner';
const SOURCE_OWNER = 'x-amz-source-expected-bucket-owner';

/** A value of a request header as a condition key's values: absent when the header is. */
const headerValues = (headers: IncomingHttpHeaders, name: string): string[] => {
  const value = header(headers, name);
  return value === undefined ? [] : [value];
};

/** The condition keys of a write's request headers (PutObject's in list_amazons3.html). */
function writeConditions(headers: IncomingHttpHeaders): Record<string, string[]> {
  return {
    's3:x-amz-server-side-encryption': headerValues(headers, 'x-amz-server-side-encryption'),
    's3:x-amz-server-side-encryption-aws-kms-key-id': headerValues(
      headers,
      'x-amz-server-side-encryption-aws-kms-key-id',
    ),
    's3:x-amz-storage-class': headerValues(headers, 'x-amz-storage-class'),
    's3:x-amz-acl': headerValues(headers, 'x-amz-acl'),
    's3:if-match': headerValues(headers, 'if-match'),
    's3:if-none-match': headerValues(headers, 'if-none-match'),
  };
}

/** A bucket operation: its permission on the bucket, and the expected owner of the bucket. */
function onBucket(
  r: S3Request,
  name: string,
  action: string,
  run: Run,
  conditions?: Record<string, string[]>,
  key?: string,
): Operation {
  return {
    name,
    permissions: [{ action, bucket: r.bucket, key, conditions }],
    owners: [{ header: OWNER, bucket: r.bucket }],
    run,
  };
}

/** An object operation: the same, its permission on the object. */
const onObject = (
  r: S3Request,
  name: string,
  action: string,
  run: Run,
  conditions?: Record<string, string[]>,
) => onBucket(r, name, action, run, conditions, r.key);

/**
 * A read of a key that may not exist: S3 answers NoSuchKey only to a caller who may list the
 * bucket, and AccessDenied to others, so that a missing key tells nothing to who cannot list
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html, "Permissions").
 */
function hidingMissing(bucket: string, run: Run): Run {
  return async (deps, r) => {
    try {
      return await run(deps, r);
    } catch (error) {
      if (error instanceof S3Error && error.code === 'NoSuchKey')
        r.access.require({ action: 's3:ListBucket', bucket });
      throw error;
    }
  };
}

function listConditions(q: Map<string, string>): Record<string, string[]> {
  const given = (name: string) => {
    const v = q.get(name);
    return v === undefined || v === '' ? [] : [v];
  };
  // A listing without a prefix lists from the bucket's root: s3:prefix is then "" (the
  // documentation's example allows `"s3:prefix": ["", "home/"]` for the root's listing).
  return {
    's3:prefix': [q.get('prefix') ?? ''],
    's3:delimiter': given('delimiter'),
    's3:max-keys': given('max-keys'),
  };
}

function bucketOperation(method: string, r: S3Request): Operation {
  const q = r.query;
  const unsupported = BUCKET_SUBRESOURCES_NOT_IMPLEMENTED.find((s) => q.has(s));
  if (q.has('cors')) {
    // DeleteBucketCors is s3:PutBucketCORS.
    if (method === 'GET') return onBucket(r, 'GetBucketCors', 's3:GetBucketCORS', getBucketCors);
    if (method === 'PUT') return onBucket(r, 'PutBucketCors', 's3:PutBucketCORS', putBucketCors);
    if (method === 'DELETE') return onBucket(r, 'DeleteBucketCors', 's3:PutBucketCORS', deleteBucketCors);
    throw methodNotAllowed(method, 'CORS');
  }
  if (q.has('policy')) {
    if (method === 'GET') return onBucket(r, 'GetBucketPolicy', 's3:GetBucketPolicy', getBucketPolicy);
    if (method === 'PUT') return onBucket(r, 'PutBucketPolicy', 's3:PutBucketPolicy', putBucketPolicy);
    if (method === 'DELETE')
      return onBucket(r, 'DeleteBucketPolicy', 's3:DeleteBucketPolicy', deleteBucketPolicy);
    throw methodNotAllowed(method, 'POLICY');
  }
  if (q.has('encryption')) {
    // DeleteBucketEncryption is s3:PutEncryptionConfiguration.
    if (method === 'GET')
      return onBucket(r, 'GetBucketEncryption', 's3:GetEncryptionConfiguration', getBucketEncryption);
    if (method === 'PUT')
      return onBucket(r, 'PutBucketEncryption', 's3:PutEncryptionConfiguration', putBucketEncryption);
    if (method === 'DELETE')
      return onBucket(r, 'DeleteBucketEncryption', 's3:PutEncryptionConfiguration', deleteBucketEncryption);
    throw methodNotAllowed(method, 'ENCRYPTION');
  }
  if (q.has('inventory')) {
    // Get and List are s3:GetInventoryConfiguration, Put and Delete s3:PutInventoryConfiguration
    // (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucketInventoryConfiguration.html).
    const listing = !q.has('id');
    if (method === 'GET' && listing)
      return onBucket(
        r,
        'ListBucketInventoryConfigurations',
        's3:GetInventoryConfiguration',
        listBucketInventories,
      );
    if (method === 'GET')
      return onBucket(
        r,
        'GetBucketInventoryConfiguration',
        's3:GetInventoryConfiguration',
        getBucketInventory,
      );
    if (method === 'PUT')
      return onBucket(
        r,
        'PutBucketInventoryConfiguration',
        's3:PutInventoryConfiguration',
        putBucketInventory,
      );
    if (method === 'DELETE')
      return onBucket(
        r,
        'DeleteBucketInventoryConfiguration',
        's3:PutInventoryConfiguration',
        deleteBucketInventory,
      );
    throw methodNotAllowed(method, 'INVENTORY');
  }
  if (unsupported) throw notImplemented(`The bucket subresource ?${unsupported}`);
  switch (method) {
    case 'HEAD':
      return onBucket(r, 'HeadBucket', 's3:ListBucket', headBucket);
    case 'GET':
      if (q.has('location'))
        return onBucket(r, 'GetBucketLocation', 's3:GetBucketLocation', getBucketLocation);
      return onBucket(
        r,
        q.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects',
        's3:ListBucket',
        listObjects,
        listConditions(q),
      );
    case 'POST':
      // Each key is s3:DeleteObject, decided as the keys are deleted.
      if (q.has('delete'))
        return {
          name: 'DeleteObjects',
          permissions: [],
          owners: [{ header: OWNER, bucket: r.bucket }],
          run: deleteObjects,
        };
      throw notImplemented('POST (browser form upload)');
    case 'PUT':
      return {
        name: 'CreateBucket',
        permissions: [],
        owners: [],
        run: (deps, req) => {
          if (deps.storage.buckets.has(req.bucket))
            throw new S3Error(
              'BucketAlreadyOwnedByYou',
              'Your previous request to create the named bucket succeeded and you already own it.',
              {
                BucketName: req.bucket,
              },
            );
          throw notImplemented('CreateBucket (the local S3 serves the buckets named when it starts)');
        },
      };
    case 'DELETE':
      throw notImplemented('DeleteBucket');
    default:
      throw methodNotAllowed(method, 'BUCKET');
  }
}

function objectOperation(method: string, r: S3Request, headers: IncomingHttpHeaders): Operation {
  const q = r.query;
  const unsupported = OBJECT_SUBRESOURCES_NOT_IMPLEMENTED.find((s) => q.has(s));
  if (unsupported) throw notImplemented(`The object subresource ?${unsupported}`);
  const copy = header(r.req.headers, 'x-amz-copy-source') !== undefined;
  switch (method) {
    case 'GET':
      if (q.has('uploadId')) return onObject(r, 'ListParts', 's3:ListMultipartUploadParts', listParts);
      return onObject(
        r,
        'GetObject',
        's3:GetObject',
        hidingMissing(r.bucket, (deps, req) => getObject(deps, req, false)),
      );
    case 'HEAD':
      return onObject(
        r,
        'HeadObject',
        's3:GetObject',
        hidingMissing(r.bucket, (deps, req) => getObject(deps, req, true)),
      );
    case 'PUT': {
      if (q.has('uploadId') || q.has('partNumber')) {
        if (copy) throw notImplemented('UploadPartCopy');
        return onObject(r, 'UploadPart', 's3:PutObject', uploadPart, writeConditions(headers));
      }
      if (!copy) return onObject(r, 'PutObject', 's3:PutObject', putObject, writeConditions(headers));
      // CopyObject: s3:GetObject on the source, s3:PutObject on the target.
      const source = copySourceOf(r);
      return {
        name: 'CopyObject',
        permissions: [
          { action: 's3:GetObject', bucket: source.bucket, key: source.key },
          {
            action: 's3:PutObject',
            bucket: r.bucket,
            key: r.key,
            conditions: {
              ...writeConditions(headers),
              's3:x-amz-copy-source': headerValues(headers, 'x-amz-copy-source'),
              's3:x-amz-metadata-directive': headerValues(headers, 'x-amz-metadata-directive'),
            },
          },
        ],
        owners: [
          { header: OWNER, bucket: r.bucket },
          { header: SOURCE_OWNER, bucket: source.bucket },
        ],
        run: hidingMissing(source.bucket, copyObject),
      };
    }
    case 'DELETE':
      if (q.has('uploadId'))
        return onObject(r, 'AbortMultipartUpload', 's3:AbortMultipartUpload', abortMultipartUpload);
      return onObject(r, 'DeleteObject', 's3:DeleteObject', deleteObject);
    case 'POST':
      if (q.has('uploads'))
        return onObject(
          r,
          'CreateMultipartUpload',
          's3:PutObject',
          createMultipartUpload,
          writeConditions(headers),
        );
      if (q.has('uploadId'))
        return onObject(r, 'CompleteMultipartUpload', 's3:PutObject', completeMultipartUpload, {
          's3:if-match': headerValues(headers, 'if-match'),
          's3:if-none-match': headerValues(headers, 'if-none-match'),
        });
      throw methodNotAllowed(method, 'OBJECT');
    default:
      throw methodNotAllowed(method, 'OBJECT');
  }
}

/**
 * The operation of an authenticated request. `headers` are the request's, with those a presigned
 * URL carries in its query string.
 */
export function route(r: S3Request, headers: IncomingHttpHeaders): Operation {
  const method = r.req.method ?? 'GET';
  if (r.bucket === '') {
    if (method === 'GET')
      return {
        name: 'ListBuckets',
        permissions: [{ action: 's3:ListAllMyBuckets' }],
        owners: [],
        run: (deps) => listBuckets(deps),
      };
    throw methodNotAllowed(method, 'SERVICE');
  }
  return r.key === '' ? bucketOperation(method, r) : objectOperation(method, r, headers);
}
