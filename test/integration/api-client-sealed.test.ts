import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListPartsCommand } from '@aws-sdk/client-s3';
import { KEY_USER, OUTSIDER } from '@eaas/aws-local';
import { type CreatedUpload, downloadDocument, uploadDocument } from '@eaas/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  listedKeys,
  independentOpen as openIndependently,
  putParts,
  refusal,
  sealWith,
  storedExists,
  storedObject,
} from '../helpers/client-sealed.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * Uploads sealed in the client (`sealedBy: 'client'`) against the local stack over HTTP: the
 * service hands the uploader the new object's content key and presigned parts of the vault's
 * multipart upload it started with the object's header; the uploader encrypts with node:crypto and
 * PUTs the ciphertext straight into the vault; the completion checks the parts and completes under
 * the seal's conditions. The result opens through GET /v1/objects/{key} and through an S3EC V3
 * reader written from the specification here (HKDF-SHA512 and AES-256-GCM), with the data key
 * from the local KMS.
 */

let t: TestStack;
let work: string;
const MiB = 1024 * 1024;
const KEY_ID = 'alias/eaas-default';
const acme = { tenant: 'acme' };
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  t = await startTestStack();
  work = mkdtempSync(join(tmpdir(), 'eaas-client-sealed-'));
});
afterAll(async () => {
  await t.stop();
  rmSync(work, { recursive: true, force: true });
});

/** Whether the vault still holds the multipart upload of upload `id` (its parts), by ListParts. */
async function partsHeld(id: string): Promise<boolean> {
  const s3 = t.roleS3('uploads');
  const obj = await s3.send(
    new GetObjectCommand({ Bucket: t.config.stagingBucket, Key: `records/${id}.json` }),
  );
  const record = JSON.parse(
    await (obj.Body as { transformToString(): Promise<string> }).transformToString(),
  ) as { key: string; multipartId: string };
  return s3
    .send(
      new ListPartsCommand({ Bucket: t.config.vaultBucket, Key: record.key, UploadId: record.multipartId }),
    )
    .then(
      () => true,
      (e: { name?: string }) => {
        if (e.name === 'NoSuchUpload') return false;
        throw e;
      },
    );
}

const raw = (key: string) => storedObject(t, key);
const exists = (key: string) => storedExists(t, key);
const listed = (prefix: string) => listedKeys(t, prefix);
const independentOpen = (key: string) => openIndependently(t, key);

describe('uploads sealed in the client', () => {
  // 0 and 1 byte, one part, the part edges (the tag spilling into a second part), several parts.
  const sizes: [string, number][] = [
    ['0 bytes', 0],
    ['1 byte', 1],
    ['one whole part less its tag', 8 * MiB - 16],
    ['the tag split over two parts', 8 * MiB - 8],
    ['exactly one part of plaintext', 8 * MiB],
    ['12 MiB, several parts', 12 * MiB],
  ];
  it.each(sizes)('%s: round trip through the API and an independent S3EC V3 reader', async (_name, size) => {
    const bytes = randomBytes(size);
    const key = `sealed/${size}.bin`;
    const status = await uploadDocument(
      t.client(KEY_USER),
      { key, keyId: KEY_ID, bytes, context: acme, contentType: 'application/pdf' },
      { seal: 'client' },
    );
    expect(status).toMatchObject({ state: 'sealed', size, object: { format: 's3ec-v3' } });
    const { body, metadata } = await raw(key);
    expect(body.length).toBe(size + 16);
    expect(metadata['eaas-upload-id']).toBe(status.id);
    expect(JSON.parse(metadata['x-amz-t'] as string)).toMatchObject(acme);
    if (size >= 64) expect(body.indexOf(bytes.subarray(16, 48))).toBe(-1);
    expect(sha(await independentOpen(key))).toBe(sha(bytes));
    // Through the API: GET /v1/objects/{key} up to its 4 MiB, the streaming download above.
    if (size <= 4 * MiB) expect(sha((await t.client(KEY_USER).documents.get(key)).bytes)).toBe(sha(bytes));
    else {
      const out = join(work, 'got.bin');
      await downloadDocument(t.client(KEY_USER), key, out);
      expect(sha(readFileSync(out))).toBe(sha(bytes));
    }
    expect(await partsHeld(status.id)).toBe(false);
  });

  it('answers the content key with no-store, audits it as issued, and a file of 20 MiB goes through', async () => {
    const res = await t.client(KEY_USER).raw('POST', '/v1/uploads', {
      key: 'sealed/raw.bin',
      keyId: KEY_ID,
      size: 10,
      sealedBy: 'client',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const created = res.body as CreatedUpload;
    expect(created).toMatchObject({ sealedBy: 'client', method: 'multipart', state: 'pending' });
    expect(Buffer.from(created.cipher?.key ?? '', 'base64')).toHaveLength(32);
    expect(created.parts?.map((p) => p.size)).toEqual([26]);
    await t.client(KEY_USER).documents.cancelUpload(created.id);

    const records = readFileSync(t.stack.auditLog, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const issued = records.filter((r) => r.action === 'createUpload' && r.outcome === 'success').at(-1);
    expect(issued).toMatchObject({
      reason: 'content key issued',
      principal: expect.stringContaining(KEY_USER),
    });
    expect(JSON.stringify(records)).not.toContain(created.cipher?.key);

    const bytes = randomBytes(20 * MiB);
    const file = join(work, 'twenty.bin');
    writeFileSync(file, bytes);
    const seen: number[] = [];
    const status = await uploadDocument(
      t.client(KEY_USER),
      { key: 'sealed/twenty.bin', keyId: KEY_ID, file },
      { seal: 'client', concurrency: 2, onProgress: (p) => seen.push(p.sentBytes) },
    );
    expect(status.state).toBe('sealed');
    expect(seen.at(-1)).toBe(bytes.length);
    expect(sha(await independentOpen('sealed/twenty.bin'))).toBe(sha(bytes));
  });

  it('an upload stopped half-way leaves nothing readable nor listed, is not resumed, and a cancel aborts its parts', async () => {
    const api = t.client(KEY_USER).documents;
    const bytes = randomBytes(20 * MiB);
    const created = await api.createUpload({
      key: 'sealed/killed.bin',
      keyId: KEY_ID,
      size: bytes.length,
      sealedBy: 'client',
    });
    const body = sealWith(created, bytes);
    const [first] = created.parts ?? [];
    if (!first) throw new Error('no part');
    const res = await fetch(first.url, { method: 'PUT', body: body.subarray(0, first.size) });
    expect(res.status).toBe(200);
    // S3 shows no incomplete multipart upload as an object.
    expect(await exists('sealed/killed.bin')).toBe(false);
    expect(await listed('sealed/killed')).toEqual([]);
    expect(await partsHeld(created.id)).toBe(true);
    // The content key is not handed out again: not resumable.
    const resume = await refusal(api.resumeUpload(created.id));
    expect([resume.status, resume.code]).toEqual([409, 'InvalidState']);
    // Completing with a part missing is refused, and the upload stays pending.
    const early = await refusal(
      api.completeUpload(created.id, [
        { partNumber: 1, etag: res.headers.get('etag') ?? '' },
        { partNumber: 2, etag: '"0"' },
        { partNumber: 3, etag: '"0"' },
      ]),
    );
    expect([early.status, early.code]).toEqual([400, 'ValidationError']);
    expect((await api.getUpload(created.id)).state).toBe('pending');
    const cancelled = await api.cancelUpload(created.id);
    expect(cancelled).toMatchObject({ state: 'failed', error: { code: 'Cancelled' } });
    expect(await partsHeld(created.id)).toBe(false);
    expect(await exists('sealed/killed.bin')).toBe(false);
  });

  it('a part URL sets no metadata, and parts of another upload or of the wrong size are refused', async () => {
    const api = t.client(KEY_USER).documents;
    const bytes = randomBytes(1000);
    const a = await api.createUpload({ key: 'sealed/a.bin', keyId: KEY_ID, size: 1000, sealedBy: 'client' });
    const b = await api.createUpload({ key: 'sealed/b.bin', keyId: KEY_ID, size: 1000, sealedBy: 'client' });
    const aPart = a.parts?.[0];
    if (!aPart) throw new Error('no part');
    const aBody = sealWith(a, bytes);
    // The URL binds the size: one byte less is refused by S3.
    const short = await fetch(aPart.url, { method: 'PUT', body: aBody.subarray(1) });
    expect(short.status).toBeGreaterThanOrEqual(400);
    // Metadata headers the uploader adds never reach the object: UploadPart takes none, and the
    // header was set by the service when it started the multipart upload.
    const sneaky = await fetch(aPart.url, {
      method: 'PUT',
      body: aBody,
      headers: { 'x-amz-meta-x-amz-3': 'AAAA', 'x-amz-meta-eaas-owner': 'someone' },
    });
    const aEtags =
      sneaky.status === 200
        ? [{ partNumber: 1, etag: sneaky.headers.get('etag') ?? '' }]
        : await putParts(a, aBody);
    const bEtags = await putParts(b, sealWith(b, bytes));
    // a completed with b's part: refused, a stays pending.
    const crossed = await refusal(api.completeUpload(a.id, bEtags));
    expect([crossed.status, crossed.code]).toEqual([400, 'ValidationError']);
    expect((await api.getUpload(a.id)).state).toBe('pending');
    expect(await exists('sealed/a.bin')).toBe(false);
    const done = await api.completeUpload(a.id, aEtags);
    expect(done.state).toBe('sealed');
    const { metadata } = await raw('sealed/a.bin');
    expect(metadata['x-amz-3']).not.toBe('AAAA');
    expect(metadata['eaas-owner']).toContain(KEY_USER);
    expect(sha(await independentOpen('sealed/a.bin'))).toBe(sha(bytes));
    await api.cancelUpload(b.id);
  });

  it("another caller neither sees nor completes someone's upload", async () => {
    const api = t.client(KEY_USER).documents;
    const created = await api.createUpload({
      key: 'sealed/mine.bin',
      keyId: KEY_ID,
      size: 5,
      sealedBy: 'client',
    });
    const etags = await putParts(created, sealWith(created, randomBytes(5)));
    const other = t.client(OUTSIDER).documents;
    const seen = await refusal(other.getUpload(created.id));
    expect([seen.status, seen.code]).toEqual([404, 'NotFound']);
    const completed = await refusal(other.completeUpload(created.id, etags));
    expect([completed.status, completed.code]).toEqual([404, 'NotFound']);
    expect(await exists('sealed/mine.bin')).toBe(false);
    expect((await api.completeUpload(created.id, etags)).state).toBe('sealed');
  });

  it('overwrite false, or a replaced version, is kept at completion when someone wrote meanwhile', async () => {
    const api = t.client(KEY_USER).documents;
    for (const overwrite of [false, true]) {
      const key = `sealed/raced-${overwrite}.bin`;
      if (overwrite) await api.put(key, Buffer.from('first'), { keyId: KEY_ID });
      const created = await api.createUpload({ key, keyId: KEY_ID, size: 7, overwrite, sealedBy: 'client' });
      const etags = await putParts(created, sealWith(created, randomBytes(7)));
      // Someone writes the name meanwhile.
      await api.put(key, Buffer.from('meanwhile'), { keyId: KEY_ID });
      const lost = await refusal(api.completeUpload(created.id, etags));
      expect([lost.status, lost.code]).toEqual([412, 'PreconditionFailed']);
      expect(await api.getUpload(created.id)).toMatchObject({ state: 'failed', error: { code: 'Conflict' } });
      expect(Buffer.from((await api.get(key)).bytes).toString()).toBe('meanwhile');
      expect(await partsHeld(created.id)).toBe(false);
    }
  });

  it('a header too large for the metadata goes to an instruction file written at completion', async () => {
    const context = Object.fromEntries(Array.from({ length: 12 }, (_v, i) => [`k${i}`, 'v'.repeat(150)]));
    const bytes = randomBytes(3000);
    const status = await uploadDocument(
      t.client(KEY_USER),
      { key: 'sealed/instructed.bin', keyId: KEY_ID, bytes, context },
      { seal: 'client' },
    );
    expect(status.state).toBe('sealed');
    expect(await exists('sealed/instructed.bin.instruction')).toBe(true);
    expect(sha((await t.client(KEY_USER).documents.get('sealed/instructed.bin')).bytes)).toBe(sha(bytes));
  });

  it('a tampered ciphertext byte is stored (no verify) but never released', async () => {
    const api = t.client(KEY_USER).documents;
    const bytes = randomBytes(100);
    const created = await api.createUpload({
      key: 'sealed/tampered.bin',
      keyId: KEY_ID,
      size: 100,
      sealedBy: 'client',
    });
    const body = sealWith(created, bytes);
    body[10] = (body[10] ?? 0) ^ 1;
    const etags = await putParts(created, body);
    await api.completeUpload(created.id, etags);
    const read = await refusal(api.get('sealed/tampered.bin'));
    expect(read.status).toBe(400);
    expect(read.code).toBe('InvalidCiphertext');
  });

  it('refuses a sealedBy it does not know', async () => {
    const res = await t.client(KEY_USER).raw('POST', '/v1/uploads', {
      key: 'sealed/x.bin',
      keyId: KEY_ID,
      size: 1,
      sealedBy: 'someone',
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'ValidationError' });
  });
});
