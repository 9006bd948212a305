import { type EncryptionContext, parseJsonStrict, ReservedMemberError } from '@eaas/aws-rules';
import { TAG_BYTES } from './envelope/index.js';
import { DomainError } from './errors.js';
import { type Person, personOf } from './person.js';

/**
 * The record of an upload (`records/{id}.json` in the staging bucket), its names in the staging
 * bucket, and how an upload is cut into presigned parts. Pure: the store and the steps that change
 * a record live in `services/uploads/`, the changes themselves in `upload-transitions.ts`.
 */

/** At or below this size one presigned PUT; above it, a multipart upload with presigned parts. */
export const SINGLE_PUT_LIMIT = 16 * 1024 * 1024;
/** Parts of at least 8 MiB, at most 1,000 of them (larger parts for larger files). */
export const MIN_PART_BYTES = 8 * 1024 * 1024;
export const MAX_PARTS = 1000;
export const MiB = 1024 * 1024;

export type UploadState = 'pending' | 'sealed' | 'failed';
export type UploadErrorCode =
  | 'Expired'
  | 'TooLarge'
  | 'SizeMismatch'
  | 'Cancelled'
  | 'Conflict'
  | 'SealFailed'
  | 'VerifyFailed';
export type ObjectFormat = 's3ec-v2' | 's3ec-v3';

export interface UploadRecord {
  v: 1;
  id: string;
  key: string;
  keyArn: string;
  context: EncryptionContext;
  owner: string;
  /** A person's upload (every person shares the identity pool's role): who, and so its space. */
  person?: Person;
  size: number;
  contentType?: string;
  overwrite: boolean;
  method: 'PUT' | 'multipart';
  /**
   * Who encrypts: `service` (absent; the uploader PUTs plaintext to the staging area and the seal
   * encrypts it) or `client` (the uploader encrypts with the content key it was handed and PUTs the
   * ciphertext straight into the vault's multipart upload, which this service started with the
   * object's S3EC header: `multipartId` is then the vault's, `instruction` the instruction file to
   * write at completion when the header did not fit in the object's metadata).
   */
  sealedBy?: 'client';
  /**
   * A client-sealed upload whose object is authenticated before it is listed: its multipart
   * upload is at a hidden pending name (`verifyingKeyOf`), completed there; `verifying` is set
   * once it is, and the seal function then authenticates it and copies it to `key`.
   */
  verify?: true;
  verifying?: true;
  instruction?: string;
  multipartId?: string;
  partSize?: number;
  createdAt: string;
  expiresAt: string;
  state: UploadState;
  /** The ETag of the object the upload replaces (its owner was allowed to), or null: the key was free. */
  replaces: string | null;
  /** Set by the completion before S3 assembles the parts: an upload completing is never expired. */
  completing?: boolean;
  /** Set while a seal works on it; another may take over once it has passed. */
  leaseUntil?: string;
  /**
   * The seal attempt writing the vault object: its nonce (also in the object's metadata) and the
   * instruction file it needs, kept here first so that an attempt killed between the object and
   * its instruction file is finished by the next, not started again.
   */
  attempt?: { nonce: string; instruction?: string };
  attempts: number;
  sealedAt?: string;
  object?: { etag: string; format: ObjectFormat };
  error?: { code: string; message: string };
}

/** What callers see of an upload: never a secret, never a URL. */
export interface UploadStatus {
  id: string;
  key: string;
  keyId: string;
  state: UploadState;
  size: number;
  createdAt: string;
  expiresAt: string;
  sealedAt?: string | undefined;
  object?: { etag: string; format: ObjectFormat } | undefined;
  error?: { code: string; message: string } | undefined;
}

export function statusOf(record: UploadRecord): UploadStatus {
  return {
    id: record.id,
    key: record.key,
    keyId: record.keyArn,
    state: record.state,
    size: record.size,
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
    ...(record.sealedAt ? { sealedAt: record.sealedAt } : {}),
    ...(record.object ? { object: record.object } : {}),
    ...(record.error ? { error: record.error } : {}),
  };
}

/**
 * How long the links of an upload of `size` bytes live: the configured time, plus a second per
 * MiB (a slow line still finishes a large file), 12 hours at most.
 */
export function linkSeconds(urlSeconds: number, size: number): number {
  return Math.min(12 * 3600, urlSeconds + Math.floor(size / MiB));
}

/** The parts of a multipart upload of `size` bytes: 8 MiB or more each, whole MiB, at most MAX_PARTS. */
export function planParts(size: number): { partSize: number; sizes: number[] } {
  const partSize = Math.max(MIN_PART_BYTES, Math.ceil(size / MAX_PARTS / MiB) * MiB);
  const sizes: number[] = [];
  for (let offset = 0; offset < size; offset += partSize) sizes.push(Math.min(partSize, size - offset));
  return { partSize, sizes };
}

/**
 * The parts the uploader sends: of the plaintext (sealed by the service), or of the ciphertext
 * and its 16-byte GCM tag (sealed by the client), so at least one part even for 0 bytes.
 */
export function uploadedParts(record: Pick<UploadRecord, 'size' | 'sealedBy'>) {
  return planParts(record.sealedBy === 'client' ? record.size + TAG_BYTES : record.size);
}

/** Upload ids: 128 random bits in hex. */
export const isUploadId = (id: string): boolean => /^[0-9a-f]{32}$/.test(id);
/** The uploaded plaintext, until the seal has read it. */
export const stagingKeyOf = (id: string) => `incoming/${id}`;
export const recordKeyOf = (id: string) => `records/${id}.json`;
/** An empty marker per pending upload: the sweep lists these, not every record kept for 30 days. */
export const PENDING_PREFIX = 'pending/';
export const pendingKeyOf = (id: string) => `${PENDING_PREFIX}${id}`;

/** The vault's pending name of a verified upload (a reserved prefix at the vault's root: never listed). */
export const VERIFYING_PREFIX = 'uploads-verifying/';
export const verifyingKeyOf = (id: string) => `${VERIFYING_PREFIX}${id}`;

/** An upload id from a staging key (`incoming/{id}`), or undefined for anything else. */
export function uploadIdOf(stagingObjectKey: string): string | undefined {
  return /^incoming\/([0-9a-f]{32})$/.exec(stagingObjectKey)?.[1];
}

/** An upload id from a pending marker's key (`pending/{id}`), or undefined for anything else. */
export function pendingIdOf(markerKey: string): string | undefined {
  return /^pending\/([0-9a-f]{32})$/.exec(markerKey)?.[1];
}

/** An upload's record from its stored JSON; InternalError naming the first field found wrong. */
export function parseUploadRecord(text: string, id: string): UploadRecord {
  let value: unknown;
  let reserved = false;
  try {
    // A member `__proto__` (a context key of that name) is refused, as in every context taken in.
    value = parseJsonStrict(text);
  } catch (error) {
    reserved = error instanceof ReservedMemberError;
    value = undefined;
  }
  const wrong = reserved ? '__proto__' : problemOf(value);
  if (wrong !== undefined)
    throw new DomainError('InternalError', `The record of upload ${id} is damaged (${wrong}).`);
  return pick(value as UploadRecord);
}

type Check = (v: unknown) => boolean;
const isString: Check = (v) => typeof v === 'string';
const isCount: Check = (v) => Number.isSafeInteger(v) && (v as number) >= 0;
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const oneOf =
  (...values: unknown[]): Check =>
  (v) =>
    values.includes(v);
const shape =
  (fields: Record<string, Check>, optional: Record<string, Check> = {}): Check =>
  (v) =>
    isObject(v) &&
    Object.entries(fields).every(([k, check]) => check(v[k])) &&
    Object.entries(optional).every(([k, check]) => v[k] === undefined || check(v[k]));

/** Every field of a record and its rule; the optional ones may be absent. */
const REQUIRED: Record<string, Check> = {
  v: oneOf(1),
  id: isString,
  key: isString,
  keyArn: isString,
  context: (v) => isObject(v) && !Object.hasOwn(v, '__proto__') && Object.values(v).every(isString),
  owner: isString,
  size: isCount,
  overwrite: oneOf(true, false),
  method: oneOf('PUT', 'multipart'),
  createdAt: isString,
  expiresAt: isString,
  state: oneOf('pending', 'sealed', 'failed'),
  replaces: (v) => v === null || isString(v),
  attempts: isCount,
};
const OPTIONAL: Record<string, Check> = {
  person: (v) => personOf(v) !== undefined,
  contentType: isString,
  sealedBy: oneOf('client'),
  verify: oneOf(true),
  verifying: oneOf(true),
  instruction: isString,
  multipartId: isString,
  partSize: isCount,
  completing: oneOf(true, false),
  leaseUntil: isString,
  attempt: shape({ nonce: isString }, { instruction: isString }),
  sealedAt: isString,
  object: shape({ etag: isString, format: oneOf('s3ec-v2', 's3ec-v3') }),
  error: shape({ code: isString, message: isString }),
};

function problemOf(value: unknown): string | undefined {
  if (!isObject(value)) return 'not an object';
  for (const [field, check] of Object.entries(REQUIRED)) if (!check(value[field])) return field;
  for (const [field, check] of Object.entries(OPTIONAL))
    if (value[field] !== undefined && !check(value[field])) return field;
  return undefined;
}

/** The record's known fields only (a checked value; anything else in the JSON is dropped). */
function pick(value: UploadRecord): UploadRecord {
  const out: Record<string, unknown> = {};
  for (const field of [...Object.keys(REQUIRED), ...Object.keys(OPTIONAL)])
    if ((value as unknown as Record<string, unknown>)[field] !== undefined)
      out[field] = (value as unknown as Record<string, unknown>)[field];
  return out as unknown as UploadRecord;
}
