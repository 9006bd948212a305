import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecryptCommand } from '@aws-sdk/client-kms';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { KEY_USER, SERVICE } from '@eaas/aws-local';
import { type CreatedUpload, EaasError, uploadDocument, waitForSeal } from '@eaas/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, runCli } from '../helpers/cli-docs-run.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * Verified uploads sealed in the client (`sealedBy: 'client', verify: true`) against the local
 * stack over HTTP: the parts complete at a hidden pending name (`uploads-verifying/{id}`), the
 * completion answers pending, and the seal function (delivered the staging event of the
 * completion's marker, under its template role: kms:Decrypt with the S3EC context, the pending
 * prefix) authenticates the object whole and copies it to its name under the seal's conditions.
 * Seals are held here until the test lets them go, so that "while verifying" is observed.
 */

let t: TestStack;
let home: string;
const MiB = 1024 * 1024;
const KEY_ID = 'alias/eaas-default';
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Seals held per upload id until released; an id not held seals at once. */
const held = new Map<string, { release: () => void; released: Promise<void> }>();
function hold(id: string) {
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  held.set(id, { release, released });
  return release;
}

beforeAll(async () => {
  t = await startTestStack({
    seal: async (record, seal) => {
      const id = /^incoming\/([0-9a-f]{32})$/.exec(record.s3.object.key)?.[1];
      const gate = id ? held.get(id) : undefined;
      if (gate) await gate.released;
      return seal(record);
    },
  });
  home = mkdtempSync(join(tmpdir(), 'eaas-verify-'));
});
afterAll(async () => {
  for (const gate of held.values()) gate.release();
  await t.stop();
  rmSync(home, { recursive: true, force: true });
});

async function raw(key: string) {
  const obj = await t.s3(SERVICE).send(new GetObjectCommand({ Bucket: t.config.vaultBucket, Key: key }));
  const body = Buffer.from(
    await (obj.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
  return { body, metadata: obj.Metadata ?? {}, etag: obj.ETag };
}

async function exists(key: string): Promise<boolean> {
  return t
    .s3(SERVICE)
    .send(new HeadObjectCommand({ Bucket: t.config.vaultBucket, Key: key }))
    .then(
      () => true,
      (e: { $metadata?: { httpStatusCode?: number } }) => {
        if (e.$metadata?.httpStatusCode === 404) return false;
        throw e;
      },
    );
}

async function listed(prefix: string): Promise<string[]> {
  return (await t.client(KEY_USER).documents.list({ prefix })).objects.map((o) => o.key);
}

/** The S3EC V3 reader of the specification: data key from KMS, HKDF-SHA512, AES-256-GCM. */
async function independentOpen(key: string): Promise<Buffer> {
  const { body, metadata } = await raw(key);
  expect(metadata['x-amz-c']).toBe('115');
  const wrapped = Buffer.from(metadata['x-amz-3'] as string, 'base64');
  const context = JSON.parse(metadata['x-amz-t'] as string) as Record<string, string>;
  const out = await t
    .kms(KEY_USER)
    .send(new DecryptCommand({ CiphertextBlob: wrapped, EncryptionContext: context }));
  const dataKey = Buffer.from(out.Plaintext as Uint8Array);
  const messageId = Buffer.from(metadata['x-amz-i'] as string, 'base64');
  const info = (label: string) => Buffer.concat([Buffer.from([0x00, 0x73]), Buffer.from(label)]);
  const commitment = Buffer.from(hkdfSync('sha512', dataKey, messageId, info('COMMITKEY'), 28));
  expect(commitment.toString('base64')).toBe(metadata['x-amz-d']);
  const contentKey = Buffer.from(hkdfSync('sha512', dataKey, messageId, info('DERIVEKEY'), 32));
  const decipher = createDecipheriv('aes-256-gcm', contentKey, Buffer.alloc(12, 1));
  decipher.setAAD(Buffer.from([0x00, 0x73]));
  decipher.setAuthTag(body.subarray(body.length - 16));
  return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]);
}

/** Encrypts `bytes` with the answered cipher as a client does, with its tag. */
function sealWith(created: CreatedUpload, bytes: Buffer): Buffer {
  const c = created.cipher;
  if (!c) throw new Error('no cipher');
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(c.key, 'base64'), Buffer.from(c.iv, 'base64'));
  cipher.setAAD(Buffer.from(c.aad, 'base64'));
  return Buffer.concat([cipher.update(bytes), cipher.final(), cipher.getAuthTag()]);
}

async function putParts(created: CreatedUpload, body: Buffer) {
  const etags: { partNumber: number; etag: string }[] = [];
  let offset = 0;
  for (const part of created.parts ?? []) {
    const res = await fetch(part.url, { method: 'PUT', body: body.subarray(offset, offset + part.size) });
    expect(res.status).toBe(200);
    etags.push({ partNumber: part.partNumber, etag: res.headers.get('etag') ?? '' });
    offset += part.size;
  }
  return etags;
}

async function refusal(p: Promise<unknown>): Promise<EaasError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EaasError);
  return error as EaasError;
}

/** Creates a verified upload of `bytes` at `key`, its seal held; sends its parts (one byte flipped if asked). */
async function started(key: string, bytes: Buffer, tamper = false) {
  const api = t.client(KEY_USER).documents;
  const created = await api.createUpload({
    key,
    keyId: KEY_ID,
    size: bytes.length,
    sealedBy: 'client',
    verify: true,
    context: { tenant: 'acme' },
  });
  expect(created).toMatchObject({ sealedBy: 'client', verify: true, state: 'pending' });
  const release = hold(created.id);
  const body = sealWith(created, bytes);
  // A flipped ciphertext byte in the last part.
  if (tamper) body[body.length - 20] = (body[body.length - 20] ?? 0) ^ 1;
  const etags = await putParts(created, body);
  return { api, created, etags, release };
}

describe('verified uploads sealed in the client', () => {
  it('round trip: completed at its pending name, neither listed nor readable while verifying, then sealed, listed, and opened through the API and an independent S3EC V3 reader', async () => {
    const bytes = randomBytes(12 * MiB);
    const key = 'verified/twelve.bin';
    const { api, created, etags, release } = await started(key, bytes);
    const completed = await api.completeUpload(created.id, etags);
    expect(completed).toMatchObject({ state: 'pending' });
    const pendingKey = `uploads-verifying/${created.id}`;
    expect(await exists(pendingKey)).toBe(true);
    expect(await exists(key)).toBe(false);
    expect(await listed('verified/')).toEqual([]);
    expect((await refusal(api.get(key))).status).toBe(404);
    // The pending name is reserved: no route reads it.
    expect((await refusal(api.get(pendingKey))).code).toBe('ValidationError');
    expect(await listed('uploads-verifying/')).toEqual([]);
    release();
    const status = await waitForSeal(t.client(KEY_USER), created.id, 60_000);
    expect(status).toMatchObject({ state: 'sealed', object: { format: 's3ec-v3' } });
    expect(await exists(pendingKey)).toBe(false);
    expect(await listed('verified/')).toEqual([key]);
    const { metadata, etag } = await raw(key);
    expect(status.object?.etag).toBe(etag);
    expect(metadata['eaas-upload-id']).toBe(created.id);
    expect(sha(await independentOpen(key))).toBe(sha(bytes));
    const small = randomBytes(1000);
    const viaClient = await uploadDocument(
      t.client(KEY_USER),
      { key: 'verified/small.bin', keyId: KEY_ID, bytes: small },
      { seal: 'client', verify: true },
    );
    expect(viaClient.state).toBe('sealed');
    expect(sha((await api.get('verified/small.bin')).bytes)).toBe(sha(small));
  });

  it('a tampered part fails the verify step: failed/VerifyFailed, nothing listed or replaced, the pending object gone', async () => {
    const api = t.client(KEY_USER).documents;
    const key = 'verified/tampered.bin';
    const first = randomBytes(500);
    await api.put(key, first, { keyId: KEY_ID });
    const before = (await raw(key)).etag;
    const { created, etags, release } = await started(key, randomBytes(9 * MiB), true);
    expect((await api.completeUpload(created.id, etags)).state).toBe('pending');
    release();
    const failed = await refusal(waitForSeal(t.client(KEY_USER), created.id, 60_000));
    expect(failed.code).toBe('VerifyFailed');
    expect(await api.getUpload(created.id)).toMatchObject({
      state: 'failed',
      error: { code: 'VerifyFailed', message: expect.not.stringMatching(/tag|commit|GCM/i) },
    });
    expect(await exists(`uploads-verifying/${created.id}`)).toBe(false);
    expect((await raw(key)).etag).toBe(before);
    expect(sha((await api.get(key)).bytes)).toBe(sha(first));
    // A fresh upload at a free name, tampered: nothing is listed at all.
    const lone = await started('verified/tampered-new.bin', randomBytes(100), true);
    await api.completeUpload(lone.created.id, lone.etags);
    lone.release();
    expect((await refusal(waitForSeal(t.client(KEY_USER), lone.created.id, 60_000))).code).toBe(
      'VerifyFailed',
    );
    expect(await listed('verified/tampered-new')).toEqual([]);
  });

  it('a write at the name while verifying wins: Conflict, and the newer document is kept', async () => {
    const key = 'verified/raced.bin';
    const { api, created, etags, release } = await started(key, randomBytes(64));
    await api.completeUpload(created.id, etags);
    await api.put(key, Buffer.from('meanwhile'), { keyId: KEY_ID });
    release();
    expect((await refusal(waitForSeal(t.client(KEY_USER), created.id, 60_000))).code).toBe('Conflict');
    expect(Buffer.from((await api.get(key)).bytes).toString()).toBe('meanwhile');
    expect(await exists(`uploads-verifying/${created.id}`)).toBe(false);
  });

  it('refuses verify for an upload sealed by the service (400), and the client refuses it too', async () => {
    const res = await t.client(KEY_USER).raw('POST', '/v1/uploads', {
      key: 'verified/service.bin',
      keyId: KEY_ID,
      size: 10,
      verify: true,
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'ValidationError' });
    await expect(
      uploadDocument(
        t.client(KEY_USER),
        { key: 'verified/service.bin', keyId: KEY_ID, bytes: Buffer.alloc(10) },
        { seal: 'service', verify: true },
      ),
    ).rejects.toThrow(TypeError);
  });

  it('eaas put --verify round trip, and --verify with --seal service is a usage error', async () => {
    const env = { ...cliEnv(t, KEY_USER, home), EAAS_KEY_ID: KEY_ID };
    for (const size of [100, 9 * MiB]) {
      const bytes = randomBytes(size);
      const file = join(home, `verify-${size}.bin`);
      writeFileSync(file, bytes);
      const put = await runCli(['put', file, `verified/cli-${size}.bin`, '--verify'], env);
      expect([put.code, put.stderr]).toEqual([0, '']);
      expect(JSON.parse(put.stdout.toString('utf8'))).toMatchObject({
        key: `verified/cli-${size}.bin`,
        size,
      });
      const out = join(home, `verify-${size}.out`);
      const got = await runCli(['get', `verified/cli-${size}.bin`, out], env);
      expect(got.code).toBe(0);
      expect(sha(readFileSync(out))).toBe(sha(bytes));
    }
    const file = join(home, 'verify-service.bin');
    writeFileSync(file, randomBytes(10));
    const run = await runCli(['put', file, 'verified/cli-service.bin', '--seal', 'service', '--verify'], env);
    expect([run.code, run.stdout.length]).toEqual([2, 0]);
    expect(run.stderr).toMatch(/--verify/);
  });
});
