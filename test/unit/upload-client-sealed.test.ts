import { describe, expect, it } from 'vitest';
import { ALICE, BOB, callerOf, KEY_A, recordOf, uploadWorld } from '../helpers/upload-world.js';

/**
 * Uploads sealed in the client, against in-memory buckets and data keys: what the record keeps,
 * what ends them (the sweep after their links expire, a cancel) and that both abort the vault's
 * multipart upload; that they are never resumed. The round trips run against the local stack
 * (test/integration/api-client-sealed.test.ts).
 */

const alice = callerOf(ALICE, [KEY_A]);

describe('uploads sealed in the client', () => {
  it('starts the multipart upload in the vault, not in staging, and records it; the answer holds the content key, the record does not', async () => {
    const { uploads, staging, vault } = uploadWorld();
    const created = await uploads.create(alice, { key: 'doc', keyId: KEY_A, size: 0, sealedBy: 'client' });
    expect(created).toMatchObject({ sealedBy: 'client', method: 'multipart', state: 'pending' });
    if (!('cipher' in created)) throw new Error('no cipher');
    expect(Buffer.from(created.cipher.key, 'base64')).toHaveLength(32);
    expect(created.parts.map((p) => p.size)).toEqual([16]);
    expect(vault.openUploads).toBe(1);
    expect(staging.openUploads).toBe(0);
    const record = recordOf(staging, created.id);
    expect(record).toMatchObject({ sealedBy: 'client', method: 'multipart', key: 'doc' });
    expect(JSON.stringify(record)).not.toContain(created.cipher.key);
  });

  it('is never resumed, and only its owner may cancel it (which aborts its vault parts)', async () => {
    const { uploads, vault } = uploadWorld();
    const created = await uploads.create(alice, { key: 'doc', keyId: KEY_A, size: 5, sealedBy: 'client' });
    await expect(uploads.resume(alice, created.id)).rejects.toMatchObject({ code: 'InvalidState' });
    await expect(uploads.cancel(callerOf(BOB, [KEY_A]), created.id)).rejects.toMatchObject({
      code: 'NotFound',
    });
    expect(vault.openUploads).toBe(1);
    expect(await uploads.cancel(alice, created.id)).toMatchObject({ state: 'failed' });
    expect(vault.openUploads).toBe(0);
  });

  it('the sweep ends one whose links expired, and aborts its parts in the vault', async () => {
    const { uploads, staging, vault, clock } = uploadWorld();
    const created = await uploads.create(alice, { key: 'doc', keyId: KEY_A, size: 5, sealedBy: 'client' });
    expect(await uploads.sweep()).toMatchObject({ expired: 0 });
    expect(vault.openUploads).toBe(1);
    clock.advance(901);
    expect(await uploads.sweep()).toMatchObject({ sealed: 0, expired: 1, failed: 0 });
    expect(recordOf(staging, created.id)).toMatchObject({ state: 'failed', error: { code: 'Expired' } });
    expect(vault.openUploads).toBe(0);
    expect(vault.objects.has('doc')).toBe(false);
  });

  it('the sweep finishes a completion that wrote the object but died before recording it', async () => {
    const { uploads, staging, vault, clock } = uploadWorld();
    const created = await uploads.create(alice, { key: 'doc', keyId: KEY_A, size: 5, sealedBy: 'client' });
    const record = recordOf(staging, created.id);
    // The completion marked the upload and S3 assembled the parts; then it died.
    staging.set(`records/${created.id}.json`, JSON.stringify({ ...record, completing: true }));
    const etag = vault.uploadPart(record.multipartId, 1, Buffer.alloc(21, 7));
    await vault.completeMultipart('doc', record.multipartId, [{ partNumber: 1, etag }], { ifNoneMatch: '*' });
    clock.advance(901);
    // Within the grace a completion may still be at work: left alone.
    expect(await uploads.sweep()).toMatchObject({ sealed: 0, expired: 0 });
    clock.advance(15 * 60);
    expect(await uploads.sweep()).toMatchObject({ sealed: 1, expired: 0 });
    expect(recordOf(staging, created.id)).toMatchObject({ state: 'sealed', object: { format: 's3ec-v3' } });
    expect(vault.objects.get('doc')?.metadata['eaas-upload-id']).toBe(created.id);
  });

  it('completes only with the parts S3 holds, each its planned size, under the condition the upload was created with', async () => {
    const { uploads, vault, staging } = uploadWorld();
    const created = await uploads.create(alice, { key: 'doc', keyId: KEY_A, size: 5, sealedBy: 'client' });
    const { multipartId } = recordOf(staging, created.id);
    const short = vault.uploadPart(multipartId, 1, Buffer.alloc(20));
    await expect(uploads.complete(alice, created.id, [{ partNumber: 1, etag: short }])).rejects.toMatchObject(
      {
        code: 'ValidationError',
      },
    );
    expect(recordOf(staging, created.id)).toMatchObject({ state: 'pending' });
    expect(recordOf(staging, created.id).completing).toBeUndefined();
    const whole = vault.uploadPart(multipartId, 1, Buffer.alloc(21));
    // Someone wrote the name meanwhile: the upload ends Conflict, its parts aborted, nothing replaced.
    vault.set('doc', 'theirs');
    await expect(uploads.complete(alice, created.id, [{ partNumber: 1, etag: whole }])).rejects.toMatchObject(
      {
        code: 'PreconditionFailed',
      },
    );
    expect(recordOf(staging, created.id)).toMatchObject({ state: 'failed', error: { code: 'Conflict' } });
    expect(vault.objects.get('doc')?.body.toString()).toBe('theirs');
    expect(vault.openUploads).toBe(0);
  });

  it('a completion whose recording fails after S3 assembled the object ends sealed, never cancelled or expired over it', async () => {
    const { uploads, vault, staging, clock, documents } = uploadWorld();
    await documents.put(alice, 'doc', Buffer.from('the document it replaces'), { keyId: KEY_A });
    const created = await uploads.create(alice, { key: 'doc', keyId: KEY_A, size: 5, sealedBy: 'client' });
    const { multipartId } = recordOf(staging, created.id);
    const part = vault.uploadPart(multipartId, 1, Buffer.alloc(21, 3));
    // Recording the upload sealed fails (S3 throttled the staging write) once S3 has assembled it.
    const put = staging.put.bind(staging);
    let refused = 0;
    staging.put = async (key, body, options) => {
      if (String(body).includes('"state":"sealed"') && refused++ === 0)
        throw Object.assign(new Error('SlowDown'), { name: 'SlowDown' });
      return put(key, body, options);
    };
    // The failure after the commit is recovered at once: the object is this upload's.
    expect(await uploads.complete(alice, created.id, [{ partNumber: 1, etag: part }])).toMatchObject({
      state: 'sealed',
    });
    expect(refused).toBe(2);
    expect(vault.objects.get('doc')?.metadata['eaas-upload-id']).toBe(created.id);
    // A cancel or the sweep afterwards changes nothing.
    expect(await uploads.cancel(alice, created.id)).toMatchObject({ state: 'sealed' });
    clock.advance(3600);
    expect(await uploads.sweep()).toMatchObject({ expired: 0 });
    expect(recordOf(staging, created.id)).toMatchObject({ state: 'sealed' });
  });

  it('a cancel or the sweep finishes, rather than ends, an upload whose object S3 assembled but no completion recorded', async () => {
    for (const end of ['cancel', 'sweep'] as const) {
      const { uploads, vault, staging, clock } = uploadWorld();
      const created = await uploads.create(alice, { key: 'doc', keyId: KEY_A, size: 5, sealedBy: 'client' });
      const { multipartId } = recordOf(staging, created.id);
      // S3 assembled it (the completion's answer was lost), and the record was left unmarked.
      const part = vault.uploadPart(multipartId, 1, Buffer.alloc(21, 5));
      await vault.completeMultipart('doc', multipartId, [{ partNumber: 1, etag: part }], {
        ifNoneMatch: '*',
      });
      if (end === 'cancel')
        expect(await uploads.cancel(alice, created.id)).toMatchObject({ state: 'sealed' });
      else {
        clock.advance(901);
        expect(await uploads.sweep()).toMatchObject({ sealed: 1, expired: 0 });
      }
      expect(recordOf(staging, created.id)).toMatchObject({ state: 'sealed' });
      expect(vault.objects.get('doc')?.metadata['eaas-upload-id']).toBe(created.id);
    }
  });

  it('the document it was to replace deleted meanwhile is a write meanwhile: Conflict, nothing written', async () => {
    const { uploads, vault, staging, documents } = uploadWorld();
    await documents.put(alice, 'doc', Buffer.from('v1'), { keyId: KEY_A });
    const created = await uploads.create(alice, { key: 'doc', keyId: KEY_A, size: 5, sealedBy: 'client' });
    const { multipartId } = recordOf(staging, created.id);
    const part = vault.uploadPart(multipartId, 1, Buffer.alloc(21));
    await documents.delete(alice, 'doc');
    await expect(uploads.complete(alice, created.id, [{ partNumber: 1, etag: part }])).rejects.toMatchObject({
      code: 'PreconditionFailed',
    });
    expect(recordOf(staging, created.id)).toMatchObject({ state: 'failed', error: { code: 'Conflict' } });
    expect(vault.objects.size).toBe(0);
  });
});
