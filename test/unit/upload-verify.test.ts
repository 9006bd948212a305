import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/core/errors.js';
import type { UploadRecord } from '../../src/core/upload-record.js';
import { checkCancellable, verifyingStarted, verifyLease } from '../../src/core/upload-transitions.js';
import { ALICE, callerOf, KEY_A, recordOf, uploadWorld } from '../helpers/upload-world.js';

/**
 * The verify step of client-sealed uploads (`verify: true`), against in-memory buckets and data
 * keys: the pure transitions; the upload completed at its pending name, then authenticated and
 * copied into place by the seal; a tampered object failing it; a write meanwhile; an attempt that
 * died after its copy. The round trips over HTTP run against the local stack
 * (test/integration/api-client-sealed-verify.test.ts).
 */

const alice = callerOf(ALICE, [KEY_A]);
const now = new Date('2026-05-01T10:00:00Z');

type Created = Awaited<ReturnType<ReturnType<typeof uploadWorld>['uploads']['create']>>;

/** The ciphertext and tag of `plaintext` under the cipher the create answered, as the client makes it. */
function sealedBody(created: Created, plaintext: Buffer): Buffer {
  if (!('cipher' in created)) throw new Error('no cipher');
  const { key, iv, aad } = created.cipher;
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(key, 'base64'), Buffer.from(iv, 'base64'));
  cipher.setAAD(Buffer.from(aad, 'base64'));
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/** Starts a verified upload of `plaintext` at `doc`, sends its one part (tampered if asked) and completes it. */
async function verifiedUpload(world: ReturnType<typeof uploadWorld>, plaintext: Buffer, tamper = false) {
  const created = await world.uploads.create(alice, {
    key: 'doc',
    keyId: KEY_A,
    size: plaintext.length,
    sealedBy: 'client',
    verify: true,
  });
  const body = sealedBody(created, plaintext);
  if (tamper) body[0] = (body[0] ?? 0) ^ 1;
  const { multipartId } = recordOf(world.staging, created.id);
  const etag = world.vault.uploadPart(multipartId, 1, body);
  const completed = await world.uploads.complete(alice, created.id, [{ partNumber: 1, etag }]);
  return { created, completed };
}

const pendingRecord = (over: Partial<UploadRecord> = {}): UploadRecord => ({
  v: 1,
  id: 'a'.repeat(32),
  key: 'doc',
  keyArn: KEY_A,
  context: {},
  owner: ALICE,
  size: 5,
  overwrite: true,
  method: 'multipart',
  sealedBy: 'client',
  verify: true,
  multipartId: 'm',
  createdAt: now.toISOString(),
  expiresAt: new Date(now.getTime() + 900_000).toISOString(),
  state: 'pending',
  replaces: null,
  completing: true,
  attempts: 0,
  ...over,
});

describe('verify transitions', () => {
  it('a completed verified upload is verifying, no longer completing, and cannot be cancelled', () => {
    const next = verifyingStarted(pendingRecord());
    expect(next).toMatchObject({ verifying: true, state: 'pending' });
    expect(next.completing).toBeUndefined();
    expect(() => checkCancellable(next, now)).toThrow(DomainError);
  });

  it('the verify step leases only a verifying upload, once at a time, and counts its attempts', () => {
    expect(verifyLease(pendingRecord(), now, 60)).toEqual({ kind: 'none' });
    expect(verifyLease(pendingRecord({ state: 'sealed' }), now, 60)).toEqual({
      kind: 'over',
      state: 'sealed',
    });
    const lease = verifyLease(verifyingStarted(pendingRecord()), now, 60);
    if (lease.kind !== 'lease') throw new Error(lease.kind);
    expect(lease.record.attempts).toBe(1);
    expect(Date.parse(lease.record.leaseUntil ?? '')).toBe(now.getTime() + 60_000);
    expect(verifyLease(lease.record, now, 60)).toEqual({ kind: 'busy' });
  });
});

describe('verified client-sealed uploads', () => {
  it('refuses verify for an upload sealed by the service', async () => {
    const { uploads } = uploadWorld();
    await expect(
      uploads.create(alice, { key: 'doc', keyId: KEY_A, size: 5, verify: true }),
    ).rejects.toMatchObject({ code: 'ValidationError' });
  });

  it('refuses verify above what one CopyObject copies (5 GiB with the tag)', async () => {
    const { uploads } = uploadWorld();
    const over = 5 * 1024 ** 3 - 15;
    await expect(
      uploads.create(alice, { key: 'doc', keyId: KEY_A, size: over, sealedBy: 'client', verify: true }),
    ).rejects.toMatchObject({ code: 'ValidationError' });
  });

  it('a verifying upload is not expired by a look at it after its links', async () => {
    const world = uploadWorld();
    const { created } = await verifiedUpload(world, Buffer.from('mine'));
    world.staging.objects.delete(`incoming/${created.id}`);
    world.clock.advance(3600);
    expect(await world.uploads.status(alice, created.id)).toMatchObject({ state: 'pending' });
    expect(await world.uploads.sweep()).toMatchObject({ sealed: 1 });
  });

  it('completes at the pending name, then the seal authenticates it and copies it into place', async () => {
    const world = uploadWorld();
    const plaintext = Buffer.from('hello verified world');
    const { created, completed } = await verifiedUpload(world, plaintext);
    expect(completed).toMatchObject({ state: 'pending' });
    const pendingKey = `uploads-verifying/${created.id}`;
    expect(world.vault.objects.has(pendingKey)).toBe(true);
    expect(world.vault.objects.has('doc')).toBe(false);
    // The completion's marker is what the staging bucket's event delivers to the seal.
    expect(world.staging.objects.has(`incoming/${created.id}`)).toBe(true);
    expect(await world.uploads.seal(created.id)).toBe('sealed');
    expect(world.keys.decrypted).toBe(1);
    expect(recordOf(world.staging, created.id)).toMatchObject({ state: 'sealed' });
    expect(world.vault.objects.has(pendingKey)).toBe(false);
    expect(world.staging.objects.has(`incoming/${created.id}`)).toBe(false);
    const opened = await world.documents.get(alice, 'doc');
    expect(Buffer.from(opened.plaintext).toString()).toBe(plaintext.toString());
  });

  it('a tampered part fails the verify step: nothing at the name, the pending object gone', async () => {
    const world = uploadWorld();
    // A document already at the name, which the tampered upload would replace.
    const first = await verifiedUpload(world, Buffer.from('the first version'));
    expect(await world.uploads.seal(first.created.id)).toBe('sealed');
    const before = world.vault.objects.get('doc')?.etag;
    const { created } = await verifiedUpload(world, Buffer.from('hello verified world'), true);
    expect(await world.uploads.seal(created.id)).toBe('failed');
    expect(recordOf(world.staging, created.id)).toMatchObject({
      state: 'failed',
      error: { code: 'VerifyFailed' },
    });
    expect(world.vault.objects.has(`uploads-verifying/${created.id}`)).toBe(false);
    expect(world.vault.objects.get('doc')?.etag).toBe(before);
    const opened = await world.documents.get(alice, 'doc');
    expect(Buffer.from(opened.plaintext).toString()).toBe('the first version');
  });

  it('a write at the name meanwhile wins: Conflict, the pending object gone', async () => {
    const world = uploadWorld();
    const { created } = await verifiedUpload(world, Buffer.from('mine'));
    world.vault.set('doc', 'theirs');
    expect(await world.uploads.seal(created.id)).toBe('failed');
    expect(recordOf(world.staging, created.id)).toMatchObject({ error: { code: 'Conflict' } });
    expect(world.vault.objects.get('doc')?.body.toString()).toBe('theirs');
    expect(world.vault.objects.has(`uploads-verifying/${created.id}`)).toBe(false);
  });

  it('a transient failure releases the lease, and the sweep verifies it again', async () => {
    const world = uploadWorld();
    const { created } = await verifiedUpload(world, Buffer.from('mine'));
    world.vault.fail('get', new DomainError('Throttled', 'slow down'));
    await expect(world.uploads.seal(created.id)).rejects.toMatchObject({ code: 'Throttled' });
    expect(recordOf(world.staging, created.id).leaseUntil).toBeUndefined();
    expect(await world.uploads.sweep()).toMatchObject({ sealed: 1 });
    expect(recordOf(world.staging, created.id)).toMatchObject({ state: 'sealed' });
  });

  it('an attempt that died after its copy is finished by the next, which never copies again', async () => {
    const world = uploadWorld();
    const { created } = await verifiedUpload(world, Buffer.from('mine'));
    // The first attempt copies, then dies before deleting the pending object or recording the seal.
    world.vault.fail('delete', new Error('killed'));
    await expect(world.uploads.seal(created.id)).rejects.toThrow('killed');
    expect(world.vault.calls.copy).toBe(1);
    const copied = world.vault.objects.get('doc')?.etag;
    expect(await world.uploads.seal(created.id)).toBe('sealed');
    expect(world.vault.calls.copy).toBe(1);
    expect(recordOf(world.staging, created.id)).toMatchObject({ state: 'sealed', object: { etag: copied } });
  });

  it('an attempt that died after its copy, then a newer write at the name: not copied over it (Conflict)', async () => {
    const world = uploadWorld();
    const { created } = await verifiedUpload(world, Buffer.from('mine'));
    world.vault.fail('delete', new Error('killed'));
    await expect(world.uploads.seal(created.id)).rejects.toThrow('killed');
    world.vault.set('doc', 'newer');
    expect(await world.uploads.seal(created.id)).toBe('failed');
    expect(recordOf(world.staging, created.id)).toMatchObject({ error: { code: 'Conflict' } });
    expect(world.vault.objects.get('doc')?.body.toString()).toBe('newer');
  });
});
