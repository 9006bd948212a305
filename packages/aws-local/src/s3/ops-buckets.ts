import { deleteGuard } from './conditions.js';
import { quoted, type Reply, type S3Deps, type S3Request, xmlReply } from './context.js';
import { corsRulesFrom, corsXml } from './cors.js';
import { invalidArgument, malformedXml, S3Error } from './errors.js';
import { checkKey, formEncode } from './keys.js';
import { decodeToken, encodeToken, type ListPosition, listPage } from './listing.js';
import type { ObjectRecord } from './object-record.js';
import { childrenNamed, childText, S3_NAMESPACE, XmlSyntaxError, xmlDocument } from './xml.js';
import { readXmlRequest } from './xml-request.js';

/**
 * Bucket-level operations: ListBuckets, HeadBucket, GetBucketLocation, ListObjects (V1 and V2),
 * DeleteObjects, and bucket CORS.
 */

const MAX_KEYS = 1000;

export function listBuckets(deps: S3Deps): Reply {
  const buckets = [...deps.storage.buckets.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  return xmlReply(
    xmlDocument('ListAllMyBucketsResult', {
      Owner: deps.owner,
      Buckets: { Bucket: buckets.map((b) => ({ Name: b.name, CreationDate: b.created.toISOString() })) },
    }),
  );
}

export function headBucket(deps: S3Deps, r: S3Request): Reply {
  deps.storage.bucket(r.bucket);
  return { status: 200, headers: { 'x-amz-bucket-region': deps.region } };
}

export function getBucketLocation(deps: S3Deps, r: S3Request): Reply {
  deps.storage.bucket(r.bucket);
  // us-east-1 is written as an empty constraint, as S3 does.
  const region = deps.region === 'us-east-1' ? '' : deps.region;
  return xmlReply(
    `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="${S3_NAMESPACE}">${region}</LocationConstraint>`,
  );
}

function maxKeysOf(r: S3Request): number {
  const raw = r.query.get('max-keys');
  if (raw === undefined) return MAX_KEYS;
  if (!/^\d{1,10}$/.test(raw))
    throw invalidArgument('Provided max-keys not an integer or within integer range', 'max-keys', raw);
  return Math.min(Number(raw), MAX_KEYS);
}

function encodingOf(r: S3Request): (text: string) => string {
  const encoding = r.query.get('encoding-type');
  if (encoding === undefined) return (text) => text;
  if (encoding !== 'url')
    throw invalidArgument('Invalid Encoding Method specified in Request', 'encoding-type', encoding);
  return formEncode;
}

function contents(
  records: ObjectRecord[],
  encode: (t: string) => string,
  owner: S3Deps['owner'] | undefined,
) {
  return records.map((o) => ({
    Key: encode(o.key),
    LastModified: o.lastModified,
    ETag: quoted(o.etag),
    ...(o.checksum ? { ChecksumAlgorithm: o.checksum.algorithm.toUpperCase() } : {}),
    Size: o.size,
    ...(owner ? { Owner: owner } : {}),
    StorageClass: 'STANDARD',
  }));
}

/** ListObjectsV2 (`list-type=2`) and the original ListObjects, over the same paging. */
export function listObjects(deps: S3Deps, r: S3Request): Reply {
  const bucket = deps.storage.bucket(r.bucket);
  const v2 = r.query.get('list-type') === '2';
  if (r.query.has('list-type') && !v2)
    throw invalidArgument('Invalid List Type specified in Request', 'list-type', r.query.get('list-type'));
  const prefix = r.query.get('prefix') ?? '';
  const delimiter = r.query.get('delimiter') || undefined;
  const maxKeys = maxKeysOf(r);
  const encode = encodingOf(r);
  const token = v2 ? r.query.get('continuation-token') : undefined;
  const startAfter = v2 ? r.query.get('start-after') : undefined;
  const marker = v2 ? undefined : r.query.get('marker');
  let after: ListPosition | undefined;
  if (token !== undefined) after = decodeToken(token);
  else if (startAfter) after = { marker: startAfter, isPrefix: false };
  else if (marker) {
    // A V1 marker that is a common prefix (it ends in the delimiter) skips everything under it.
    after = {
      marker,
      isPrefix: delimiter !== undefined && marker.endsWith(delimiter) && marker.startsWith(prefix),
    };
  }
  const page = listPage(bucket.sorted, { prefix, delimiter, maxKeys, after });
  const records = page.keys.map((k) => bucket.get(k)).filter((o): o is ObjectRecord => o !== undefined);
  const common = page.commonPrefixes.map((p) => ({ Prefix: encode(p) }));
  const encodingType = r.query.has('encoding-type') ? 'url' : undefined;
  if (v2) {
    const fetchOwner = r.query.get('fetch-owner') === 'true';
    return xmlReply(
      xmlDocument('ListBucketResult', {
        Name: bucket.name,
        Prefix: encode(prefix),
        Delimiter: delimiter === undefined ? undefined : encode(delimiter),
        MaxKeys: maxKeys,
        EncodingType: encodingType,
        KeyCount: records.length + common.length,
        IsTruncated: page.truncated,
        ContinuationToken: token,
        NextContinuationToken: page.next ? encodeToken(page.next) : undefined,
        StartAfter: startAfter === undefined ? undefined : encode(startAfter),
        Contents: contents(records, encode, fetchOwner ? deps.owner : undefined),
        CommonPrefixes: common,
      }),
    );
  }
  return xmlReply(
    xmlDocument('ListBucketResult', {
      Name: bucket.name,
      Prefix: encode(prefix),
      Marker: encode(marker ?? ''),
      // S3 gives NextMarker only with a delimiter; without one the last key is the next marker.
      NextMarker: page.next && delimiter !== undefined ? encode(page.next.marker) : undefined,
      MaxKeys: maxKeys,
      Delimiter: delimiter === undefined ? undefined : encode(delimiter),
      EncodingType: encodingType,
      IsTruncated: page.truncated,
      Contents: contents(records, encode, deps.owner),
      CommonPrefixes: common,
    }),
  );
}

/**
 * DeleteObjects (`POST ?delete`): up to 1,000 keys, each deleted or reported as an error (an
 * AccessDenied among them: https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html).
 */
export async function deleteObjects(deps: S3Deps, r: S3Request): Promise<Reply> {
  const bucket = deps.storage.bucket(r.bucket);
  const document = await readXmlRequest(deps, r, 'Delete');
  const objects = childrenNamed(document, 'Object');
  let quiet: boolean;
  const requested: Array<{ key: string; etag: string | undefined }> = [];
  try {
    quiet = childText(document, 'Quiet')?.trim() === 'true';
    for (const o of objects) {
      const key = childText(o, 'Key');
      if (key === undefined) throw malformedXml();
      requested.push({ key, etag: childText(o, 'ETag')?.trim() });
    }
  } catch (error) {
    if (error instanceof XmlSyntaxError) throw malformedXml();
    throw error;
  }
  if (requested.length === 0 || requested.length > 1000) throw malformedXml();
  const deleted: Array<{ Key: string }> = [];
  const errors: Array<{ Key: string; Code: string; Message: string }> = [];
  for (const { key, etag } of requested) {
    try {
      checkKey(key);
      // Each key is its own s3:DeleteObject; a refused one is reported, the others go on.
      r.access.require({ action: 's3:DeleteObject', bucket: bucket.name, key });
      bucket.delete(key, deleteGuard(etag === undefined ? {} : { 'if-match': etag }, key));
      deleted.push({ Key: key });
    } catch (error) {
      if (!(error instanceof S3Error)) throw error;
      errors.push({ Key: key, Code: error.code, Message: error.message });
    }
  }
  return xmlReply(xmlDocument('DeleteResult', { Deleted: quiet ? [] : deleted, Error: errors }));
}

export function getBucketCors(deps: S3Deps, r: S3Request): Reply {
  const rules = deps.storage.bucket(r.bucket).cors;
  if (!rules)
    throw new S3Error('NoSuchCORSConfiguration', 'The CORS configuration does not exist', {
      BucketName: r.bucket,
    });
  return xmlReply(corsXml(rules));
}

export async function putBucketCors(deps: S3Deps, r: S3Request): Promise<Reply> {
  const bucket = deps.storage.bucket(r.bucket);
  bucket.setCors(corsRulesFrom(await readXmlRequest(deps, r, 'CORSConfiguration')));
  return { status: 200 };
}

export function deleteBucketCors(deps: S3Deps, r: S3Request): Reply {
  deps.storage.bucket(r.bucket).setCors(undefined);
  return { status: 204 };
}
