import type { EncryptionContext } from '@eaas/aws-rules';
import { DomainError, ValidationError } from './errors.js';
import type { Person } from './person.js';
import {
  type ObjectFormat,
  planParts,
  SINGLE_PUT_LIMIT,
  type UploadErrorCode,
  type UploadRecord,
  uploadedParts,
} from './upload-record.js';

/**
 * The state changes of an upload, as pure functions of its record (and the time): `pending` to
 * `sealed` or `failed`, a seal's lease taken and released, its attempt noted. The services write
 * what these answer with a write conditioned on the ETag they read, so two seals, or a seal and a
 * cancel, never both win.
 */

/** Seals tried this many times (each after a transient failure) end failed. */
export const MAX_SEAL_ATTEMPTS = 5;

/** A new pending upload: a single PUT up to SINGLE_PUT_LIMIT bytes, multipart above. */
export function newUploadRecord(input: {
  id: string;
  key: string;
  keyArn: string;
  context: EncryptionContext;
  owner: string;
  person?: Person | undefined;
  size: number;
  contentType?: string | undefined;
  overwrite: boolean;
  replaces: string | null;
  now: Date;
  expiresInSeconds: number;
}): UploadRecord {
  return {
    v: 1,
    id: input.id,
    key: input.key,
    keyArn: input.keyArn,
    context: input.context,
    owner: input.owner,
    ...(input.person ? { person: input.person } : {}),
    size: input.size,
    ...(input.contentType ? { contentType: input.contentType } : {}),
    overwrite: input.overwrite,
    replaces: input.replaces,
    method: input.size > SINGLE_PUT_LIMIT ? 'multipart' : 'PUT',
    createdAt: input.now.toISOString(),
    expiresAt: new Date(input.now.getTime() + input.expiresInSeconds * 1000).toISOString(),
    state: 'pending',
    attempts: 0,
  };
}

/** Whether a seal holds the upload now. */
export function isLeased(record: UploadRecord, now: Date): boolean {
  return record.leaseUntil !== undefined && Date.parse(record.leaseUntil) > now.getTime();
}

/**
 * Whether a pending upload's links have expired with nothing completing; it is abandoned (ends
 * failed/Expired) once no staging object is there either, which the caller looks up.
 */
export function isPastLinks(record: UploadRecord, now: Date): boolean {
  // A verified upload completed at its pending name is its verify step's (the seal's), never expired.
  return (
    record.state === 'pending' &&
    !record.completing &&
    !record.verifying &&
    now.getTime() > Date.parse(record.expiresAt)
  );
}

/** The upload ended failed; no lease, no attempt left on it. */
export function failed(record: UploadRecord, code: UploadErrorCode, message: string): UploadRecord {
  const out: UploadRecord = { ...record, state: 'failed', error: { code, message } };
  delete out.leaseUntil;
  delete out.attempt;
  return out;
}

/** Precondition of completing a multipart upload: pending, in time, and every part named once. */
export function checkCompletion(
  record: UploadRecord,
  partNumbers: readonly number[],
  now: Date,
): asserts record is UploadRecord & { multipartId: string } {
  if (record.method !== 'multipart' || record.multipartId === undefined)
    throw new DomainError('InvalidState', 'This upload is a single PUT: there is nothing to complete.');
  if (record.state !== 'pending')
    throw new DomainError('InvalidState', `The upload is already ${record.state}.`);
  if (now.getTime() > Date.parse(record.expiresAt))
    throw new DomainError('UploadExpired', `The upload expired at ${record.expiresAt}; start a new one.`);
  const expected = uploadedParts(record).sizes.length;
  const numbers = [...partNumbers].sort((a, b) => a - b);
  if (numbers.length !== expected || numbers.some((n, i) => n !== i + 1))
    throw new ValidationError(`parts must list each of the ${expected} parts 1-${expected} once.`);
}

/** Precondition of cancelling a pending upload: no seal holds it, nor a completion of a client's. */
export function checkCancellable(record: UploadRecord, now: Date): void {
  // A client-sealed upload completing writes the vault object itself: cancelling then would race it.
  if (record.sealedBy === 'client' && (record.completing || record.verifying))
    throw new DomainError('InvalidState', 'The upload is being completed; it can no longer be cancelled.');
  if (isLeased(record, now))
    throw new DomainError('InvalidState', 'The upload is being sealed; it can no longer be cancelled.');
}

/**
 * What a seal does with an upload it found: nothing when it is over (only its staging data goes),
 * `busy` while another seal holds it; else it looks at the staging object (`sealLease`).
 */
export function sealStart(
  record: UploadRecord,
  now: Date,
): { kind: 'over'; state: 'sealed' | 'failed' } | { kind: 'busy' } | { kind: 'look' } {
  if (record.state !== 'pending') return { kind: 'over', state: record.state };
  if (isLeased(record, now)) return { kind: 'busy' };
  return { kind: 'look' };
}

/**
 * What a seal does once it has looked at the staging object: nothing yet without one, `fail` when
 * it is not the size announced, else take the lease (one more attempt) with the record answered.
 */
export function sealLease<S extends { size: number }>(
  record: UploadRecord,
  staged: S | undefined,
  now: Date,
  leaseSeconds: number,
):
  | { kind: 'absent' }
  | { kind: 'fail'; code: UploadErrorCode; message: string }
  | { kind: 'lease'; record: UploadRecord; staged: S } {
  if (!staged) return { kind: 'absent' };
  if (staged.size !== record.size)
    return {
      kind: 'fail',
      code: staged.size > record.size ? 'TooLarge' : 'SizeMismatch',
      message: `The upload is ${staged.size} bytes, not the ${record.size} announced.`,
    };
  return {
    kind: 'lease',
    record: {
      ...record,
      leaseUntil: new Date(now.getTime() + leaseSeconds * 1000).toISOString(),
      attempts: record.attempts + 1,
    },
    staged,
  };
}

/** The seal attempt about to write the vault object, noted first (and the instruction file it needs). */
export function withAttempt(
  record: UploadRecord,
  nonce: string,
  instruction: string | undefined,
): UploadRecord {
  return { ...record, attempt: { nonce, ...(instruction !== undefined ? { instruction } : {}) } };
}

/** The upload sealed into the vault object of `etag`. */
export function sealed(
  record: UploadRecord,
  at: Date,
  object: { etag: string; format: ObjectFormat },
): UploadRecord {
  const out: UploadRecord = { ...record, state: 'sealed', sealedAt: at.toISOString(), object };
  delete out.leaseUntil;
  delete out.attempt;
  delete out.error;
  return out;
}

/** The lease given back, for the next delivery of the event or the sweep. */
export function released(record: UploadRecord): UploadRecord {
  const out: UploadRecord = { ...record };
  delete out.leaseUntil;
  return out;
}

/**
 * Failures a retry cannot mend: the key refused, disabled, gone, or the request invalid. Anything
 * else (S3 or KMS unavailable or throttled, a connection cut mid-stream) is tried again.
 */
export function isPermanent(error: unknown): error is DomainError {
  return (
    error instanceof DomainError &&
    [
      'AccessDenied',
      'KeyDisabled',
      'KeyPendingDeletion',
      'KeyNotFound',
      'InvalidKeyUsage',
      'ValidationError',
    ].includes(error.code)
  );
}

/**
 * What a seal does after a failure other than a lost condition: `retry` (release the lease and seal
 * again from a fresh look: the staging object changed), `fail` (with this message), or `release`
 * (give the lease back and throw, so that the event is delivered again).
 */
export function afterSealFailure(
  record: UploadRecord,
  error: unknown,
  stagingChanged: boolean,
): { kind: 'retry' } | { kind: 'release' } | { kind: 'fail'; message: string } {
  const exhausted = record.attempts >= MAX_SEAL_ATTEMPTS;
  if (stagingChanged && !exhausted) return { kind: 'retry' };
  if (stagingChanged || isPermanent(error) || exhausted)
    return {
      kind: 'fail',
      message: isPermanent(error)
        ? error.message
        : `The document could not be sealed into the vault after ${record.attempts} attempts.`,
    };
  return { kind: 'release' };
}

/**
 * Precondition of signing the parts of an upload again: a multipart upload, pending, not being
 * completed, its links not expired; `partNumbers` (if given) among its parts.
 */
export function checkResumable(
  record: UploadRecord,
  partNumbers: readonly number[] | undefined,
  now: Date,
): asserts record is UploadRecord & { multipartId: string; partSize: number } {
  if (record.method !== 'multipart' || record.multipartId === undefined || record.partSize === undefined)
    throw new DomainError('InvalidState', 'This upload is a single PUT: there are no parts to resume.');
  // Its content key is handed out once, at the start (docs/documents-and-uploads.md): a client that
  // lost it starts a new upload (and cancels this one, which aborts its parts).
  if (record.sealedBy === 'client')
    throw new DomainError(
      'InvalidState',
      'An upload sealed by the client is not resumed: cancel it and start a new one.',
    );
  if (record.state !== 'pending')
    throw new DomainError('InvalidState', `The upload is already ${record.state}.`);
  if (record.completing)
    throw new DomainError('InvalidState', 'The upload is being completed; look at it again.');
  if (now.getTime() > Date.parse(record.expiresAt))
    throw new DomainError('UploadExpired', `The upload expired at ${record.expiresAt}; start a new one.`);
  const count = planParts(record.size).sizes.length;
  const wrong = partNumbers?.find((n) => n > count);
  if (wrong !== undefined)
    throw new ValidationError(`partNumbers: the upload has parts 1-${count}, not ${wrong}.`);
}

/**
 * A verified upload whose multipart upload is completed at its pending name: the seal function
 * authenticates it next (the completion's mark goes; `verifying` keeps it from expiring).
 */
export function verifyingStarted(record: UploadRecord): UploadRecord {
  const out: UploadRecord = { ...record, verifying: true };
  delete out.completing;
  return out;
}

/**
 * What a verify step does with an upload it found: `over` (sealed or failed already), `busy`
 * (another holds its lease), `none` (not a verified upload completed at its pending name), or
 * `lease` with the record answered (its lease taken, one more attempt).
 */
export function verifyLease(
  record: UploadRecord,
  now: Date,
  leaseSeconds: number,
):
  | { kind: 'over'; state: 'sealed' | 'failed' }
  | { kind: 'busy' }
  | { kind: 'none' }
  | { kind: 'lease'; record: UploadRecord } {
  if (record.state !== 'pending') return { kind: 'over', state: record.state };
  if (!record.verifying) return { kind: 'none' };
  if (isLeased(record, now)) return { kind: 'busy' };
  return {
    kind: 'lease',
    record: {
      ...record,
      leaseUntil: new Date(now.getTime() + leaseSeconds * 1000).toISOString(),
      attempts: record.attempts + 1,
    },
  };
}
