import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEY_USER } from '@eaas/aws-local';
import { uploadDocument, waitForSeal } from '@eaas/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, runCli } from '../helpers/cli-docs-run.js';
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

const raw = (key: string) => storedObject(t, key);
const exists = (key: string) => storedExists(t, key);
const listed = (prefix: string) => listedKeys(t, prefix);
const independentOpen = (key: string) => openIndependently(t, key);

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
