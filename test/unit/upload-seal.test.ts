import { describe, expect, it } from 'vitest';
import { fromS3Error } from '../../src/aws/s3-errors.js';
import { DomainError } from '../../src/core/errors.js';
import { ALICE, callerOf, KEY_A, recordOf, uploadWorld } from '../helpers/upload-world.js';

/** The seal's decisions, against in-memory buckets and data keys: what it writes, and when it stops. */

const alice = callerOf(ALICE, [KEY_A]);

async function staged(
  world: ReturnType<typeof uploadWorld>,
  body: string,
  input: Record<string, unknown> = {},
) {
  const { id } = await world.uploads.create(alice, { key: 'doc', keyId: KEY_A, size: body.length, ...input });
  world.staging.set(`incoming/${id}`, body);
  return id;
}

describe('the seal', () => {
  it('envelope-encrypts the staging object into the vault, readable back, and empties staging; again is a no-op', async () => {
    const world = uploadWorld();
    const id = await staged(world, 'hello', { context: { tenant: 'acme' }, contentType: 'text/plain' });
    expect(await world.uploads.seal(id)).toBe('sealed');
    const read = await world.documents.get(alice, 'doc');
    expect(read.plaintext.toString()).toBe('hello');
    expect(read.view).toMatchObject({
      format: 's3ec-v3',
      context: { tenant: 'acme' },
      owner: ALICE,
      contentType: 'text/plain',
    });
    expect(world.vault.objects.get('doc')?.metadata).toMatchObject({ 'eaas-upload-id': id });
    expect(recordOf(world.staging, id)).toMatchObject({
      state: 'sealed',
      object: { etag: world.vault.objects.get('doc')?.etag, format: 's3ec-v3' },
    });
    expect(recordOf(world.staging, id).leaseUntil).toBeUndefined();
    expect([...world.staging.objects.keys()]).toEqual([`records/${id}.json`]);
    expect(await world.uploads.seal(id)).toBe('sealed');
    expect(world.keys.generated).toBe(1);
  });

  it('removes a staging object no upload accounts for, and waits while nothing is staged', async () => {
    const world = uploadWorld();
    const stray = 'f'.repeat(32);
    world.staging.set(`incoming/${stray}`, 'x');
    expect(await world.uploads.seal(stray)).toBe('absent');
    expect(world.staging.objects.has(`incoming/${stray}`)).toBe(false);
    const { id } = await world.uploads.create(alice, { key: 'doc', keyId: KEY_A, size: 1 });
    expect(await world.uploads.seal(id)).toBe('absent');
    expect(recordOf(world.staging, id).state).toBe('pending');
  });

  it('leaves an upload another seal holds alone until its lease has passed', async () => {
    const world = uploadWorld();
    const id = await staged(world, 'hi');
    const record = recordOf(world.staging, id);
    world.staging.set(
      `records/${id}.json`,
      JSON.stringify({ ...record, leaseUntil: '2026-05-01T10:00:30.000Z' }),
    );
    expect(await world.uploads.seal(id)).toBe('busy');
    expect(world.vault.objects.size).toBe(0);
    world.clock.advance(31);
    expect(await world.uploads.seal(id)).toBe('sealed');
  });

  it('ends failed TooLarge or SizeMismatch when the staging object is not the size announced', async () => {
    const world = uploadWorld();
    const long = await staged(world, 'abc');
    world.staging.set(`incoming/${long}`, 'abcd');
    expect(await world.uploads.seal(long)).toBe('failed');
    expect(recordOf(world.staging, long).error).toEqual({
      code: 'TooLarge',
      message: 'The upload is 4 bytes, not the 3 announced.',
    });
    const short = await staged(world, 'abc');
    world.staging.set(`incoming/${short}`, 'ab');
    expect(await world.uploads.seal(short)).toBe('failed');
    expect(recordOf(world.staging, short).error.code).toBe('SizeMismatch');
    expect(world.vault.objects.size).toBe(0);
  });

  it("stops at a permanent refusal (the owner's right revoked): failed SealFailed, nothing in the vault", async () => {
    const world = uploadWorld({
      authorizeOwner: async () => {
        throw new DomainError('AccessDenied', 'The grant was revoked.');
      },
    });
    const id = await staged(world, 'hi');
    expect(await world.uploads.seal(id)).toBe('failed');
    expect(recordOf(world.staging, id).error).toEqual({
      code: 'SealFailed',
      message: 'The grant was revoked.',
    });
    expect(world.vault.objects.size).toBe(0);
    expect(world.staging.objects.has(`incoming/${id}`)).toBe(false);
  });

  it('gives the lease back and throws on a transient failure, and ends failed after the last attempt', async () => {
    const world = uploadWorld();
    const id = await staged(world, 'hi');
    for (let attempt = 1; attempt <= 4; attempt++) {
      world.keys.fail(new DomainError('DependencyFailure', 'KMS did not answer.'));
      await expect(world.uploads.seal(id)).rejects.toThrow('KMS did not answer.');
      expect(recordOf(world.staging, id)).toMatchObject({ state: 'pending', attempts: attempt });
      expect(recordOf(world.staging, id).leaseUntil).toBeUndefined();
    }
    world.keys.fail(new DomainError('Throttled', 'KMS is throttling.'));
    expect(await world.uploads.seal(id)).toBe('failed');
    expect(recordOf(world.staging, id).error).toEqual({
      code: 'SealFailed',
      message: 'The document could not be sealed into the vault after 5 attempts.',
    });
  });

  it('fails Conflict when the key was taken meanwhile, or the document it replaces changed, leaving it whole', async () => {
    const world = uploadWorld();
    const free = await staged(world, 'mine', { overwrite: false });
    const theirs = world.vault.set('doc', 'another writer');
    expect(await world.uploads.seal(free)).toBe('failed');
    expect(recordOf(world.staging, free).error.code).toBe('Conflict');
    expect(world.vault.objects.get('doc')?.etag).toBe(theirs);

    world.vault.objects.delete('doc');
    await world.documents.put(alice, 'doc', Buffer.from('v1'), { keyId: KEY_A });
    const replacing = await staged(world, 'v3');
    await world.documents.put(alice, 'doc', Buffer.from('v2'), { keyId: KEY_A });
    expect(await world.uploads.seal(replacing)).toBe('failed');
    expect(recordOf(world.staging, replacing).error.code).toBe('Conflict');
    expect((await world.documents.get(alice, 'doc')).plaintext.toString()).toBe('v2');
  });

  it('a write S3 answers 409 ConditionalRequestConflict (nothing written, retry) is tried again, not failed', async () => {
    const world = uploadWorld();
    const id = await staged(world, 'hello');
    const conflict = Object.assign(new Error('ConditionalRequestConflict'), {
      name: 'ConditionalRequestConflict',
      $metadata: { httpStatusCode: 409 },
    });
    world.vault.fail('putStream', fromS3Error(conflict, 'doc'));
    await world.uploads.seal(id).catch(() => undefined);
    expect(world.vault.objects.has('doc')).toBe(false);
    expect(recordOf(world.staging, id).state).not.toBe('failed');
    expect(await world.uploads.seal(id)).toBe('sealed');
    expect((await world.documents.get(alice, 'doc')).plaintext.toString()).toBe('hello');
  });

  it('finishes an attempt cut off between the object and its instruction file, without a new data key', async () => {
    const world = uploadWorld();
    // A context this large does not fit S3's 2 KB of metadata: the header goes to an instruction file.
    const context = { note: 'x'.repeat(1000), more: 'y'.repeat(1000) };
    const id = await staged(world, 'large header', { context });
    world.vault.fail('put', new DomainError('DependencyFailure', 'S3 did not answer.'));
    await expect(world.uploads.seal(id)).rejects.toThrow('S3 did not answer.');
    expect(world.vault.objects.has('doc')).toBe(true);
    expect(world.vault.objects.has('doc.instruction')).toBe(false);
    expect(recordOf(world.staging, id).attempt.instruction).toBeDefined();
    expect(await world.uploads.seal(id)).toBe('sealed');
    expect(world.keys.generated).toBe(1);
    const read = await world.documents.get(alice, 'doc');
    expect(read.plaintext.toString()).toBe('large header');
    expect(read.view.instructionFile).toBe(true);
  });
});
