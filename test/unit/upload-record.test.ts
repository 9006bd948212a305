import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/core/errors.js';
import {
  linkSeconds,
  parseUploadRecord,
  pendingIdOf,
  planParts,
  type UploadRecord,
  uploadIdOf,
} from '../../src/core/upload-record.js';
import {
  afterSealFailure,
  checkCancellable,
  checkCompletion,
  failed,
  isPastLinks,
  MAX_SEAL_ATTEMPTS,
  newUploadRecord,
  released,
  sealed,
  sealLease,
  sealStart,
  withAttempt,
} from '../../src/core/upload-transitions.js';

/** The upload record and its state transitions: pure, no store. */

const MiB = 1024 * 1024;
const NOW = new Date('2026-05-01T10:00:00Z');
const at = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);
const ID = '0123456789abcdef0123456789abcdef';

const fresh = (size = 5): UploadRecord =>
  newUploadRecord({
    id: ID,
    key: 'doc',
    keyArn: 'arn:aws:kms:us-east-1:111122223333:key/a',
    context: { tenant: 'acme' },
    owner: 'arn:aws:iam::111122223333:user/alice',
    size,
    overwrite: true,
    replaces: null,
    now: NOW,
    expiresInSeconds: 900,
  });

describe('the upload record', () => {
  it('reads back what was written, dropping fields it does not know', () => {
    const record = withAttempt(fresh(), 'n1', '{"x":1}');
    expect(parseUploadRecord(JSON.stringify({ ...record, extra: true }), ID)).toEqual(record);
  });

  it('names the first field of a damaged record', () => {
    const damaged = (change: Record<string, unknown>) => () =>
      parseUploadRecord(JSON.stringify({ ...fresh(), ...change }), ID);
    expect(damaged({ size: -1 })).toThrow(`The record of upload ${ID} is damaged (size).`);
    expect(damaged({ state: 'done' })).toThrow('(state)');
    expect(damaged({ context: { a: 1 } })).toThrow('(context)');
    expect(damaged({ attempt: { instruction: 'x' } })).toThrow('(attempt)');
    expect(damaged({ v: 2 })).toThrow('(v)');
    // JSON.parse keeps a member "__proto__" as an own key, which later code may treat specially.
    const text = JSON.stringify({ ...fresh(), context: { a: 'x' } }).replace('"a":', '"__proto__":');
    expect(() => parseUploadRecord(text, ID)).toThrow(`The record of upload ${ID} is damaged (__proto__).`);
    const nested = JSON.stringify({ ...fresh(), error: { code: 'c', message: 'm', b: 1 } }).replace(
      '"b":',
      '"__proto__":',
    );
    expect(() => parseUploadRecord(nested, ID)).toThrow('(__proto__)');
    expect(() => parseUploadRecord('{', ID)).toThrow('(not an object)');
    expect(() => parseUploadRecord('{', ID)).toThrow(DomainError);
  });

  it('is a single PUT up to 16 MiB, multipart above, in parts of whole MiB, at most 1,000', () => {
    expect(fresh(16 * MiB).method).toBe('PUT');
    expect(fresh(16 * MiB + 1).method).toBe('multipart');
    expect(planParts(17 * MiB).sizes).toEqual([8 * MiB, 8 * MiB, MiB]);
    const huge = planParts(20_000 * MiB);
    expect(huge.partSize).toBe(20 * MiB);
    expect(huge.sizes.length).toBe(1000);
  });

  it('gives links a second more per MiB, 12 hours at most', () => {
    expect(linkSeconds(900, 5)).toBe(900);
    expect(linkSeconds(900, 100 * MiB)).toBe(1000);
    expect(linkSeconds(900, 10 ** 15)).toBe(12 * 3600);
  });

  it('takes upload ids only from staging keys and pending markers', () => {
    expect(uploadIdOf(`incoming/${ID}`)).toBe(ID);
    expect(uploadIdOf(`incoming/${ID}/x`)).toBeUndefined();
    expect(uploadIdOf(`records/${ID}.json`)).toBeUndefined();
    expect(pendingIdOf(`pending/${ID}`)).toBe(ID);
    expect(pendingIdOf('pending/ABC')).toBeUndefined();
  });
});

describe('the state transitions', () => {
  it('takes a lease for a staged object of the size announced, one more attempt each time', () => {
    expect(sealStart(fresh(), NOW)).toEqual({ kind: 'look' });
    const lease = sealLease(fresh(), { size: 5, etag: '"e"' }, NOW, 60);
    expect(lease).toMatchObject({ kind: 'lease', staged: { etag: '"e"' } });
    if (lease.kind !== 'lease') return;
    expect(lease.record).toMatchObject({ leaseUntil: at(60).toISOString(), attempts: 1 });
    expect(sealStart(lease.record, at(59))).toEqual({ kind: 'busy' });
    expect(sealStart(lease.record, at(61))).toEqual({ kind: 'look' });
    expect(released(lease.record).leaseUntil).toBeUndefined();
  });

  it('answers a finished upload as it ended, and nothing staged as absent', () => {
    expect(sealStart(sealed(fresh(), NOW, { etag: '"o"', format: 's3ec-v3' }), NOW)).toEqual({
      kind: 'over',
      state: 'sealed',
    });
    expect(sealStart(failed(fresh(), 'Cancelled', 'x'), NOW)).toEqual({ kind: 'over', state: 'failed' });
    expect(sealLease(fresh(), undefined, NOW, 60)).toEqual({ kind: 'absent' });
    expect(sealLease(fresh(), { size: 6 }, NOW, 60)).toMatchObject({ kind: 'fail', code: 'TooLarge' });
    expect(sealLease(fresh(), { size: 4 }, NOW, 60)).toMatchObject({ kind: 'fail', code: 'SizeMismatch' });
  });

  it('ends sealed or failed with no lease and no attempt left on the record', () => {
    const working = { ...withAttempt(fresh(), 'n', undefined), leaseUntil: at(60).toISOString() };
    for (const ended of [
      failed(working, 'Conflict', 'm'),
      sealed(working, NOW, { etag: '"o"', format: 's3ec-v3' }),
    ]) {
      expect(ended.leaseUntil).toBeUndefined();
      expect(ended.attempt).toBeUndefined();
    }
    expect(
      sealed(failed(working, 'SealFailed', 'm'), NOW, { etag: '"o"', format: 's3ec-v2' }).error,
    ).toBeUndefined();
  });

  it('retries a changed staging object, fails on a permanent refusal or the last attempt, else releases', () => {
    const tried = (attempts: number) => ({ ...fresh(), attempts });
    const denied = new DomainError('AccessDenied', 'no');
    const down = new DomainError('DependencyFailure', 'down');
    expect(afterSealFailure(tried(1), new Error('changed'), true)).toEqual({ kind: 'retry' });
    expect(afterSealFailure(tried(1), denied, false)).toEqual({ kind: 'fail', message: 'no' });
    expect(afterSealFailure(tried(1), down, false)).toEqual({ kind: 'release' });
    expect(afterSealFailure(tried(MAX_SEAL_ATTEMPTS), down, false)).toMatchObject({ kind: 'fail' });
    expect(afterSealFailure(tried(MAX_SEAL_ATTEMPTS), new Error('changed'), true)).toMatchObject({
      kind: 'fail',
    });
  });

  it('completes only a pending multipart upload in time with every part once; cancels only one no seal holds', () => {
    const multipart = { ...fresh(17 * MiB), multipartId: 'm' };
    expect(() => checkCompletion(multipart, [3, 1, 2], NOW)).not.toThrow();
    expect(() => checkCompletion(multipart, [1, 2], NOW)).toThrow(
      'parts must list each of the 3 parts 1-3 once.',
    );
    expect(() => checkCompletion(multipart, [1, 2, 3], at(901))).toThrow('expired');
    expect(() => checkCompletion(fresh(), [1], NOW)).toThrow('single PUT');
    expect(() => checkCompletion(failed(multipart, 'Cancelled', 'x'), [1, 2, 3], NOW)).toThrow(
      'already failed',
    );
    expect(() => checkCancellable({ ...fresh(), leaseUntil: at(10).toISOString() }, NOW)).toThrow(
      'being sealed',
    );
    expect(isPastLinks(fresh(), at(901))).toBe(true);
    expect(isPastLinks({ ...fresh(), completing: true }, at(901))).toBe(false);
  });
});
