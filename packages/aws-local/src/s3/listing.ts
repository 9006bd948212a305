import { invalidArgument } from './errors.js';
import { prefixSuccessor } from './keys.js';
import type { SortedKeys } from './sorted-keys.js';

/**
 * One page of a listing, as ListObjects and ListObjectsV2 define it: keys under a prefix in
 * binary order, keys sharing the part up to the first delimiter after the prefix rolled up into
 * one common prefix (which counts as one entry against max-keys), resumable after the last entry.
 */

export interface ListPosition {
  /** The last entry of the previous page, or the start-after / marker. */
  marker: string;
  /** The marker is a common prefix: every key under it was rolled up already. */
  isPrefix: boolean;
}

export interface ListInput {
  prefix: string;
  delimiter?: string | undefined;
  maxKeys: number;
  after?: ListPosition | undefined;
}

export interface ListPage {
  keys: string[];
  commonPrefixes: string[];
  truncated: boolean;
  /** Where the next page starts; set when truncated. */
  next?: ListPosition;
}

function startIndex(sorted: SortedKeys, input: ListInput): number {
  let start = sorted.bound(Buffer.from(input.prefix, 'utf8'));
  if (input.after) {
    const marker = Buffer.from(input.after.marker, 'utf8');
    const past = input.after.isPrefix ? prefixSuccessor(marker) : undefined;
    const from = input.after.isPrefix
      ? past === undefined
        ? sorted.size
        : sorted.bound(past)
      : sorted.bound(marker, true);
    start = Math.max(start, from);
  }
  return start;
}

export function listPage(sorted: SortedKeys, input: ListInput): ListPage {
  const page: ListPage = { keys: [], commonPrefixes: [], truncated: false };
  const prefixBytes = Buffer.from(input.prefix, 'utf8');
  const { delimiter } = input;
  let count = 0;
  let last: ListPosition | undefined;
  let i = startIndex(sorted, input);
  while (i < sorted.size) {
    const bytes = sorted.bytesAt(i) as Buffer;
    if (bytes.length < prefixBytes.length || !bytes.subarray(0, prefixBytes.length).equals(prefixBytes))
      break;
    if (count >= input.maxKeys) {
      page.truncated = count > 0;
      break;
    }
    const key = sorted.keyAt(i) as string;
    const cut = delimiter ? key.indexOf(delimiter, input.prefix.length) : -1;
    if (delimiter && cut >= 0) {
      const common = key.slice(0, cut + delimiter.length);
      page.commonPrefixes.push(common);
      last = { marker: common, isPrefix: true };
      const past = prefixSuccessor(Buffer.from(common, 'utf8'));
      i = past === undefined ? sorted.size : sorted.bound(past);
    } else {
      page.keys.push(key);
      last = { marker: key, isPrefix: false };
      i++;
    }
    count++;
  }
  if (page.truncated && last) page.next = last;
  return page;
}

/** The opaque continuation token of ListObjectsV2. */
export function encodeToken(position: ListPosition): string {
  return Buffer.from(JSON.stringify([position.marker, position.isPrefix ? 1 : 0]), 'utf8').toString(
    'base64url',
  );
}

export function decodeToken(token: string): ListPosition {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (
      Array.isArray(parsed) &&
      parsed.length === 2 &&
      typeof parsed[0] === 'string' &&
      (parsed[1] === 0 || parsed[1] === 1)
    )
      return { marker: parsed[0], isPrefix: parsed[1] === 1 };
  } catch {
    // falls through to the S3 error below
  }
  throw invalidArgument('The continuation token provided is incorrect', 'continuation-token', token);
}
