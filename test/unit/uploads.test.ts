import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/core/errors.js';
import { ALICE, BOB, callerOf, KEY_A, KEY_B, recordOf, uploadWorld } from '../helpers/upload-world.js';

/** Uploads started, looked at, completed and cancelled, against in-memory buckets and data keys. */

const MiB = 1024 * 1024;
const alice = callerOf(ALICE, [KEY_A]);

const refusal = async (p: Promise<unknown>) => {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  return error as DomainError;
};

describe('starting an upload', () => {
  it('answers one presigned PUT that never writes over staging, and keeps a record and a pending marker', async () => {
    const { uploads, staging } = uploadWorld();
    const out = await uploads.create(alice, {
      key: 'a/doc.txt',
      keyId: 'alias/a',
      size: 5,
      context: { t: 'x' },
    });
    expect(out).toMatchObject({
      key: 'a/doc.txt',
      keyId: KEY_A,
      state: 'pending',
      size: 5,
      method: 'PUT',
      headers: { 'If-None-Match': '*' },
      createdAt: '2026-05-01T10:00:00.000Z',
      expiresAt: '2026-05-01T10:15:00.000Z',
    });
    const url = out.method === 'PUT' ? out.url : '';
    expect(url).toContain(`incoming/${out.id}`);
    expect(url).toContain('if-none-match');
    expect(recordOf(staging, out.id)).toMatchObject({
      state: 'pending',
      owner: ALICE,
      replaces: null,
      attempts: 0,
    });
    expect(staging.objects.has(`pending/${out.id}`)).toBe(true);
  });

  it('cuts a large upload into presigned parts of whole MiB, the links living a second longer per MiB', async () => {
    const { uploads } = uploadWorld();
    const out = await uploads.create(alice, { key: 'big', keyId: KEY_A, size: 17 * MiB + 1 });
    expect(out.method).toBe('multipart');
    if (out.method !== 'multipart') return;
    expect(out.partSize).toBe(8 * MiB);
    expect(out.parts.map((p) => p.size)).toEqual([8 * MiB, 8 * MiB, MiB + 1]);
    expect(out.parts.map((p) => p.partNumber)).toEqual([1, 2, 3]);
    expect(out.expiresAt).toBe('2026-05-01T10:15:17.000Z');
  });

  it('refuses a bad size, too large a document, a reserved name or context, and a key the caller may not use', async () => {
    const { uploads, staging } = uploadWorld({ maxUploadBytes: 100 });
    const start = (input: Partial<Parameters<typeof uploads.create>[1]>) =>
      refusal(uploads.create(alice, { key: 'doc', keyId: KEY_A, size: 1, ...input }));
    expect((await start({ size: -1 })).code).toBe('ValidationError');
    expect((await start({ size: 1.5 })).code).toBe('ValidationError');
    expect((await start({ size: 101 })).code).toBe('PayloadTooLarge');
    expect((await start({ key: 'jobs/x' })).message).toContain('reserved for re-encryption job records');
    expect((await start({ key: 'doc.instruction' })).code).toBe('ValidationError');
    expect((await start({ context: { 'aws:x-amz-cek-alg': '115' } })).code).toBe('ValidationError');
    expect((await start({ contentType: 'not a type' })).code).toBe('ValidationError');
    expect((await start({ keyId: KEY_B })).code).toBe('AccessDenied');
    expect(staging.objects.size).toBe(0);
  });

  it('replaces a document only as its owner may, and never with overwrite false', async () => {
    const { uploads, documents } = uploadWorld();
    await documents.put(alice, 'taken', Buffer.from('v1'), { keyId: KEY_A });
    const mine = await uploads.create(alice, { key: 'taken', keyId: KEY_A, size: 2 });
    expect(mine.state).toBe('pending');
    expect(
      (await refusal(uploads.create(alice, { key: 'taken', keyId: KEY_A, size: 2, overwrite: false }))).code,
    ).toBe('AlreadyExists');
    const bob = callerOf(BOB, [KEY_B]);
    const taken = await refusal(uploads.create(bob, { key: 'taken', keyId: KEY_B, size: 2 }));
    expect(taken.code).toBe('AccessDenied');
    expect(taken.message).toContain('holds a document the caller may not replace');
  });
});

describe("an upload's status", () => {
  it('is NotFound for anyone but its owner, and for a malformed id', async () => {
    const { uploads } = uploadWorld();
    const { id } = await uploads.create(alice, { key: 'doc', keyId: KEY_A, size: 1 });
    expect((await uploads.status(alice, id)).state).toBe('pending');
    expect((await refusal(uploads.status(callerOf(BOB, [KEY_A]), id))).code).toBe('NotFound');
    expect((await refusal(uploads.status(alice, '../records/x'))).code).toBe('NotFound');
  });

  it('ends failed/Expired once the links expired with nothing uploaded; an upload staged in time stays pending', async () => {
    const { uploads, staging, clock } = uploadWorld();
    const idle = await uploads.create(alice, { key: 'idle', keyId: KEY_A, size: 1 });
    const sent = await uploads.create(alice, { key: 'sent', keyId: KEY_A, size: 1 });
    staging.set(`incoming/${sent.id}`, 'x');
    clock.advance(901);
    expect(await uploads.status(alice, idle.id)).toMatchObject({
      state: 'failed',
      error: { code: 'Expired' },
    });
    expect(staging.objects.has(`pending/${idle.id}`)).toBe(false);
    expect((await uploads.status(alice, sent.id)).state).toBe('pending');
  });
});

describe('completing a multipart upload', () => {
  async function started() {
    const world = uploadWorld();
    const out = await world.uploads.create(alice, { key: 'big', keyId: KEY_A, size: 17 * MiB });
    if (out.method !== 'multipart') throw new Error('expected a multipart upload');
    const uploadId = recordOf(world.staging, out.id).multipartId as string;
    const parts = out.parts.map((p) => ({
      partNumber: p.partNumber,
      etag: world.staging.uploadPart(uploadId, p.partNumber, Buffer.alloc(p.size, p.partNumber)),
    }));
    return { ...world, id: out.id, parts };
  }

  it('assembles the staging object from the parts, in any order, marked completing so that it never expires', async () => {
    const { uploads, staging, clock, id, parts } = await started();
    expect((await uploads.complete(alice, id, [...parts].reverse())).state).toBe('pending');
    expect(staging.objects.get(`incoming/${id}`)?.body.length).toBe(17 * MiB);
    expect(recordOf(staging, id).completing).toBe(true);
    clock.advance(3600);
    expect((await uploads.status(alice, id)).state).toBe('pending');
  });

  it('refuses missing or repeated parts, parts S3 does not know, and a completion after the links expired', async () => {
    const { uploads, staging, clock, id, parts } = await started();
    const [first, second] = parts as [(typeof parts)[0], (typeof parts)[0]];
    expect((await refusal(uploads.complete(alice, id, [first, second]))).message).toBe(
      'parts must list each of the 3 parts 1-3 once.',
    );
    expect((await refusal(uploads.complete(alice, id, [first, first, second]))).code).toBe('ValidationError');
    const wrong = parts.map((p) => ({ ...p, etag: '"nope"' }));
    expect((await refusal(uploads.complete(alice, id, wrong))).message).toContain('InvalidPart');
    // Not completed: the mark is taken back, so that the upload can still expire.
    expect(recordOf(staging, id).completing).toBeUndefined();
    clock.advance(1000);
    expect((await refusal(uploads.complete(alice, id, parts))).code).toBe('UploadExpired');
  });

  it('refuses to complete a single-PUT upload', async () => {
    const { uploads } = uploadWorld();
    const { id } = await uploads.create(alice, { key: 'small', keyId: KEY_A, size: 1 });
    expect((await refusal(uploads.complete(alice, id, [{ partNumber: 1, etag: '"x"' }]))).code).toBe(
      'InvalidState',
    );
  });
});

describe('cancelling an upload', () => {
  it('ends it failed/Cancelled, removing its staging data, parts and marker', async () => {
    const { uploads, staging } = uploadWorld();
    const out = await uploads.create(alice, { key: 'big', keyId: KEY_A, size: 17 * MiB });
    expect(staging.openUploads).toBe(1);
    expect(await uploads.cancel(alice, out.id)).toMatchObject({
      state: 'failed',
      error: { code: 'Cancelled' },
    });
    expect(staging.openUploads).toBe(0);
    expect([...staging.objects.keys()]).toEqual([`records/${out.id}.json`]);
    // Cancelling again answers the upload as it is.
    expect((await uploads.cancel(alice, out.id)).error?.code).toBe('Cancelled');
  });

  it('refuses while a seal holds the upload, and leaves a sealed upload as it is', async () => {
    const { uploads, staging, clock } = uploadWorld();
    const { id } = await uploads.create(alice, { key: 'doc', keyId: KEY_A, size: 2 });
    const record = recordOf(staging, id);
    staging.set(`records/${id}.json`, JSON.stringify({ ...record, leaseUntil: '2026-05-01T10:01:00.000Z' }));
    expect((await refusal(uploads.cancel(alice, id))).message).toContain('being sealed');
    clock.advance(61);
    staging.set(`incoming/${id}`, 'hi');
    expect(await uploads.seal(id)).toBe('sealed');
    expect((await uploads.cancel(alice, id)).state).toBe('sealed');
  });
});
