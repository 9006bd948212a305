import type { IncomingHttpHeaders } from 'node:http';
import { quoted, type S3Request } from './context.js';
import { sseHeaders } from './encryption.js';
import { S3Error } from './errors.js';
import { type ObjectRecord, STORED_HEADERS } from './object-record.js';
import { header, storedContentEncoding } from './payload.js';

/**
 * An object's headers in both directions: what a PUT (or a REPLACE copy, or a multipart
 * upload's creation) stores, and what GET and HEAD answer.
 */

/** S3's limit on user metadata: names (without `x-amz-meta-`) and values, in UTF-8 bytes. */
export const METADATA_LIMIT_BYTES = 2048;
/** What S3 stores when a PUT names no Content-Type. */
export const DEFAULT_CONTENT_TYPE = 'binary/octet-stream';
const META = 'x-amz-meta-';
const AMZ = 'x-amz-';

export interface StoredHeaders {
  contentType: string;
  headers: Record<string, string>;
  metadata: Record<string, string>;
}

/**
 * The request's headers, plus, for a presigned URL, the `x-amz-*` headers the presigner hoisted
 * into the (signed) query string (user metadata, server-side encryption, expected bucket owner),
 * which S3 takes as if sent as headers. The signature's own parameters are `X-Amz-*`, never hoisted.
 */
export function effectiveHeaders(r: Pick<S3Request, 'req' | 'query' | 'caller'>): IncomingHttpHeaders {
  if (!r.caller.presigned) return r.req.headers;
  const merged: IncomingHttpHeaders = { ...r.req.headers };
  for (const [name, value] of r.query) {
    if (name.startsWith(AMZ) && merged[name] === undefined) merged[name] = value;
  }
  return merged;
}

/** Precondition: user metadata within 2 KB. */
export function storedHeadersOf(headers: IncomingHttpHeaders): StoredHeaders {
  const stored: Record<string, string> = {};
  for (const name of STORED_HEADERS) {
    const value = name === 'content-encoding' ? storedContentEncoding(headers) : header(headers, name);
    if (value !== undefined) stored[name] = value;
  }
  const metadata: Record<string, string> = {};
  let size = 0;
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith(META) || value === undefined) continue;
    const key = name.slice(META.length);
    const text = Array.isArray(value) ? value.join(',') : value;
    metadata[key] = text;
    size += Buffer.byteLength(key) + Buffer.byteLength(text);
  }
  if (size > METADATA_LIMIT_BYTES) {
    throw new S3Error('MetadataTooLarge', 'Your metadata headers exceed the maximum allowed metadata size.', {
      Size: String(size),
      MaxSizeAllowed: String(METADATA_LIMIT_BYTES),
    });
  }
  return { contentType: header(headers, 'content-type') ?? DEFAULT_CONTENT_TYPE, headers: stored, metadata };
}

/** `response-*` query parameters of a GET, which override the stored headers in the answer. */
const OVERRIDES: Readonly<Record<string, string>> = {
  'response-content-type': 'content-type',
  'response-content-language': 'content-language',
  'response-expires': 'expires',
  'response-cache-control': 'cache-control',
  'response-content-disposition': 'content-disposition',
  'response-content-encoding': 'content-encoding',
};

/** The headers of a GET or HEAD answer about an object (without the length, which depends on the range). */
export function objectHeaders(
  record: ObjectRecord,
  query: ReadonlyMap<string, string>,
  withChecksum: boolean,
): Record<string, string> {
  const out: Record<string, string> = {
    'content-type': record.contentType,
    etag: quoted(record.etag),
    'last-modified': new Date(record.lastModified).toUTCString(),
    'accept-ranges': 'bytes',
    ...sseHeaders(record.sse),
    ...record.headers,
  };
  for (const [name, value] of Object.entries(record.metadata)) out[`${META}${name}`] = value;
  for (const [param, name] of Object.entries(OVERRIDES)) {
    const value = query.get(param);
    if (value === undefined) continue;
    // Precondition: an override is a valid header value (no line breaks or characters past Latin-1).
    if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(value))
      throw new S3Error('InvalidArgument', `${param} is not a valid header value.`, {
        ArgumentName: param,
        ArgumentValue: value,
      });
    out[name] = value;
  }
  if (withChecksum && record.checksum) {
    out[`x-amz-checksum-${record.checksum.algorithm}`] = record.checksum.value;
    out['x-amz-checksum-type'] = 'FULL_OBJECT';
  }
  return out;
}
