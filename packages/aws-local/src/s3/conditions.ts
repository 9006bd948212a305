import type { IncomingHttpHeaders } from 'node:http';
import { noSuchKey, preconditionFailed, S3Error } from './errors.js';
import type { ObjectRecord } from './object-record.js';
import { header } from './payload.js';

/**
 * Conditional requests as S3 evaluates them (RFC 7232 order): reads (`If-Match`,
 * `If-Unmodified-Since` → 412; `If-None-Match`, `If-Modified-Since` → 304), writes
 * (`If-None-Match: *`, `If-Match: <etag>` → 412, checked when the write commits), and the
 * source of a copy (`x-amz-copy-source-if-*`, all → 412). Also the `Range` header.
 */

/** The entity tags of an `If-Match` / `If-None-Match` list, unquoted; `*` stays `*`. */
function etagList(value: string): string[] {
  return value
    .split(',')
    .map((t) =>
      t
        .trim()
        .replace(/^W\//, '')
        .replace(/^"(.*)"$/, '$1'),
    )
    .filter((t) => t !== '');
}

function etagMatches(value: string, record: ObjectRecord): boolean {
  return etagList(value).some((t) => t === '*' || t === record.etag);
}

/** A date header, or undefined when absent or unparseable (which HTTP says to ignore). */
function dateOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Last-Modified at the one-second precision HTTP dates have. */
const modifiedSecond = (record: ObjectRecord) => Math.floor(Date.parse(record.lastModified) / 1000) * 1000;

interface Names {
  ifMatch: string;
  ifNoneMatch: string;
  ifModifiedSince: string;
  ifUnmodifiedSince: string;
}

const READ: Names = {
  ifMatch: 'if-match',
  ifNoneMatch: 'if-none-match',
  ifModifiedSince: 'if-modified-since',
  ifUnmodifiedSince: 'if-unmodified-since',
};

const COPY_SOURCE: Names = {
  ifMatch: 'x-amz-copy-source-if-match',
  ifNoneMatch: 'x-amz-copy-source-if-none-match',
  ifModifiedSince: 'x-amz-copy-source-if-modified-since',
  ifUnmodifiedSince: 'x-amz-copy-source-if-unmodified-since',
};

/** Which condition failed, if any: `fail` for a 412, `notModified` for a 304. */
function evaluate(
  headers: IncomingHttpHeaders,
  record: ObjectRecord,
  names: Names,
): 'fail' | 'notModified' | undefined {
  const ifMatch = header(headers, names.ifMatch);
  if (ifMatch !== undefined) {
    if (!etagMatches(ifMatch, record)) return 'fail';
  } else {
    const since = dateOf(header(headers, names.ifUnmodifiedSince));
    if (since !== undefined && modifiedSecond(record) > since) return 'fail';
  }
  const ifNoneMatch = header(headers, names.ifNoneMatch);
  if (ifNoneMatch !== undefined) {
    if (etagMatches(ifNoneMatch, record)) return 'notModified';
  } else {
    const since = dateOf(header(headers, names.ifModifiedSince));
    if (since !== undefined && modifiedSecond(record) <= since) return 'notModified';
  }
  return undefined;
}

/** GET and HEAD: throws PreconditionFailed (412) or NotModified (304). */
export function checkReadConditions(headers: IncomingHttpHeaders, record: ObjectRecord): void {
  const outcome = evaluate(headers, record, READ);
  if (outcome === 'fail')
    throw preconditionFailed(header(headers, 'if-match') !== undefined ? 'If-Match' : 'If-Unmodified-Since');
  if (outcome === 'notModified') throw new S3Error('NotModified', 'Not Modified');
}

/** CopyObject's source: every failed condition is a 412. */
export function checkCopySourceConditions(headers: IncomingHttpHeaders, record: ObjectRecord): void {
  if (evaluate(headers, record, COPY_SOURCE) !== undefined) preconditionFailedForCopy(headers);
}

function preconditionFailedForCopy(headers: IncomingHttpHeaders): never {
  const named =
    Object.values(COPY_SOURCE).find((n) => header(headers, n) !== undefined) ?? 'x-amz-copy-source-if-match';
  throw preconditionFailed(named);
}

/**
 * The guard of a conditional write (PutObject, CopyObject's destination, CompleteMultipartUpload),
 * run against the current object at commit: `If-None-Match: *` wants no object, `If-Match` the one
 * with that ETag (404 when there is none, as S3 answers).
 */
export function writeGuard(
  headers: IncomingHttpHeaders,
  key: string,
): (current: ObjectRecord | undefined) => void {
  const ifNoneMatch = header(headers, 'if-none-match')?.trim();
  const ifMatch = header(headers, 'if-match');
  if (ifNoneMatch !== undefined && ifNoneMatch !== '*') {
    throw new S3Error(
      'NotImplemented',
      'A header you provided implies functionality that is not implemented',
      {
        Header: 'If-None-Match',
      },
    );
  }
  return (current) => {
    if (ifNoneMatch !== undefined && current) throw preconditionFailed('If-None-Match');
    if (ifMatch !== undefined) {
      if (!current) throw noSuchKey(key);
      if (!etagMatches(ifMatch, current)) throw preconditionFailed('If-Match');
    }
  };
}

/** The guard of a conditional DeleteObject (`If-Match`). */
export function deleteGuard(
  headers: IncomingHttpHeaders,
  key: string,
): (current: ObjectRecord | undefined) => void {
  const ifMatch = header(headers, 'if-match');
  return (current) => {
    if (ifMatch === undefined) return;
    if (!current) throw noSuchKey(key);
    if (!etagMatches(ifMatch, current)) throw preconditionFailed('If-Match');
  };
}

/**
 * The byte range a `Range` header asks for, inclusive; undefined for the whole object. A header
 * that is not one `bytes=` range is ignored, as S3 (and HTTP) do; one that starts past the end is
 * InvalidRange (416).
 */
export function parseRange(
  value: string | undefined,
  size: number,
): { start: number; end: number } | undefined {
  if (value === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  const unsatisfiable = () =>
    new S3Error('InvalidRange', 'The requested range is not satisfiable', {
      RangeRequested: value,
      ActualObjectSize: String(size),
    });
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) throw unsatisfiable();
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const last = match[2] === '' ? Number.POSITIVE_INFINITY : Number(match[2]);
  if (last < start) return undefined;
  if (start >= size) throw unsatisfiable();
  return { start, end: Math.min(last, size - 1) };
}
