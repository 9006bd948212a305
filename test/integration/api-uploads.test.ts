import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { GRANTEE, KEY_MANAGER, KEY_USER, OUTSIDER, SERVICE } from '@eaas/aws-local';
import { downloadDocument, EaasError, uploadDocument } from '@eaas/client';
import type { S3EventRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KmsKeyAdmin } from '../../src/aws/kms-admin.js';
import { S3ObjectStore } from '../../src/aws/s3.js';
import { DomainError, ValidationError } from '../../src/core/errors.js';
import { DocumentService } from '../../src/services/documents.js';
import { UploadService } from '../../src/services/uploads.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * Uploads of any size through POST /v1/uploads: the bytes go to presigned URLs into the staging
 * bucket of the local S3, its object-created event runs the seal, and the document ends S3EC V3
 * in the vault with nothing left in staging. Faults: an oversized body, an expired link, a
 * duplicated or concurrent event, a seal that fails half-way.
 */

let t: TestStack;
const acme = { tenant: 'acme' };
const events: S3EventRecord[] = [];
let work: string;

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function stagingKeys(stack: TestStack): Promise<string[]> {
  const out = await stack
    .s3(SERVICE)
    .send(new ListObjectsV2Command({ Bucket: stack.config.stagingBucket, Prefix: 'incoming/' }));
  return (out.Contents ?? []).map((o) => o.Key ?? '');
}

async function vaultHead(stack: TestStack, key: string) {
  return stack
    .s3(SERVICE)
    .send(new HeadObjectCommand({ Bucket: stack.config.vaultBucket, Key: key }))
    .catch((e: { $metadata?: { httpStatusCode?: number } }) => {
      if (e.$metadata?.httpStatusCode === 404) return undefined;
      throw e;
    });
}

beforeAll(async () => {
  t = await startTestStack({ onObjectCreated: (record) => void events.push(record) });
  work = mkdtempSync(join(tmpdir(), 'eaas-uploads-'));
});
afterAll(async () => {
  await t.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('uploads of any size', () => {
  it('seals a single-PUT upload into the vault as S3EC V3 and empties staging', async () => {
    const bytes = randomBytes(3000);
    const status = await uploadDocument(t.client(KEY_USER), {
      key: 'uploads/small.bin',
      keyId: 'alias/eaas-default',
      bytes,
      context: acme,
      contentType: 'application/x-test',
    });
    expect(status).toMatchObject({
      key: 'uploads/small.bin',
      state: 'sealed',
      size: 3000,
      object: { format: 's3ec-v3' },
    });
    expect(status.keyId).toMatch(/^arn:aws:kms:/);

    const got = await t.client(KEY_USER).rawBytes('GET', '/v1/objects/uploads%2Fsmall.bin');
    expect(got.status).toBe(200);
    expect(sha(got.bytes)).toBe(sha(bytes));
    expect(got.headers.get('content-type')).toBe('application/x-test');
    expect(JSON.parse(got.headers.get('x-eaas-context') ?? '{}')).toEqual(acme);

    const stored = await vaultHead(t, 'uploads/small.bin');
    expect(stored?.Metadata?.['x-amz-c']).toBe('115');
    expect(stored?.Metadata?.['eaas-upload-id']).toBe(status.id);
    expect(stored?.ETag).toBe(status.object?.etag);
    expect(stored?.ContentLength).toBe(3000 + 16);
    expect(await stagingKeys(t)).not.toContain(`incoming/${status.id}`);
  });

  it('seals a multipart upload and downloads it through the client, decrypted and byte-exact', async () => {
    const bytes = randomBytes(20 * 1024 * 1024 + 123);
    const file = join(work, 'big.bin');
    writeFileSync(file, bytes);
    const seen: number[] = [];
    const status = await uploadDocument(
      t.client(KEY_USER),
      { key: 'uploads/big.bin', keyId: 'alias/eaas-default', file, context: acme },
      { onProgress: (p) => seen.push(p.sentBytes) },
    );
    expect(status.state).toBe('sealed');
    expect(seen.at(-1)).toBe(bytes.length);
    expect(seen.length).toBe(3);

    // The stored body is ciphertext: not one 32-byte run of the plaintext appears in it.
    const raw = await t
      .s3(SERVICE)
      .send(new GetObjectCommand({ Bucket: t.config.vaultBucket, Key: 'uploads/big.bin' }));
    const stored = Buffer.from(
      await (raw.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
    );
    expect(stored.length).toBe(bytes.length + 16);
    expect(stored.indexOf(bytes.subarray(1000, 1032))).toBe(-1);

    const out = join(work, 'big.out');
    const got = await downloadDocument(t.client(KEY_USER), 'uploads/big.bin', out);
    expect(got.size).toBe(bytes.length);
    expect(sha(readFileSync(out))).toBe(sha(bytes));
    // The audit trail says a content key went out, to whom, for which key; never the key itself.
    const records = readFileSync(t.stack.auditLog, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const disclosed = records.filter((r) => r.action === 'createDownload' && r.outcome === 'success');
    expect(disclosed.at(-1)).toMatchObject({
      reason: 'content key disclosed',
      principal: expect.stringContaining(KEY_USER),
    });
    expect(JSON.stringify(disclosed)).not.toMatch(/"key":/);
  });

  it('refuses a download to a caller who may not decrypt, and releases nothing of a tampered object', async () => {
    // As for a missing name: the refusal does not tell the caller the document exists.
    const denied = await t.client(OUTSIDER).raw('POST', '/v1/downloads', { key: 'uploads/small.bin' });
    expect(denied.status).toBe(404);
    expect(denied.body).toMatchObject({ error: 'NotFound' });

    const bytes = randomBytes(200_000);
    await uploadDocument(t.client(KEY_USER), {
      key: 'uploads/tamper.bin',
      keyId: 'alias/eaas-default',
      bytes,
    });
    const s3 = t.s3(SERVICE);
    const Bucket = t.config.vaultBucket;
    const Key = 'uploads/tamper.bin';
    const obj = await s3.send(new GetObjectCommand({ Bucket, Key }));
    const original = Buffer.from(
      await (obj.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
    );
    const metadata = obj.Metadata ?? {};
    const flip = (at: number) => {
      const b = Buffer.from(original);
      b[at] = (b[at] ?? 0) ^ 1;
      return b;
    };
    const flipB64 = (v: string | undefined) => {
      const b = Buffer.from(v ?? '', 'base64');
      b[3] = (b[3] ?? 0) ^ 1;
      return b.toString('base64');
    };
    // As an attacker with write access to the bucket could: body bytes, tag, length, header.
    const cases: [string, Buffer, Record<string, string>][] = [
      ['first byte', flip(0), metadata],
      ['a middle byte', flip(100_000), metadata],
      ['last plaintext byte', flip(original.length - 17), metadata],
      ['first tag byte', flip(original.length - 16), metadata],
      ['last tag byte', flip(original.length - 1), metadata],
      ['truncated', original.subarray(0, original.length - 1), metadata],
      ['one byte more', Buffer.concat([original, Buffer.from([0])]), metadata],
      ['tag only', original.subarray(original.length - 16), metadata],
      ['commitment', original, { ...metadata, 'x-amz-d': flipB64(metadata['x-amz-d']) }],
      ['message id', original, { ...metadata, 'x-amz-i': flipB64(metadata['x-amz-i']) }],
    ];
    const out = join(work, 'tamper.out');
    for (const [what, Body, Metadata] of cases) {
      await s3.send(new PutObjectCommand({ Bucket, Key, Body, Metadata }));
      const error = await downloadDocument(t.client(KEY_USER), Key, out).catch((e: unknown) => e);
      expect(error, what).toBeInstanceOf(EaasError);
      expect((error as EaasError).code, what).toBe('InvalidCiphertext');
      expect(existsSync(out), what).toBe(false);
      expect(
        readdirSync(work).filter((f) => f.includes('tamper')),
        what,
      ).toEqual([]);
      // The API's in-memory read answers the same uniform refusal.
      const viaApi = await t.client(KEY_USER).rawBytes('GET', '/v1/objects/uploads%2Ftamper.bin');
      expect(viaApi.status, what).toBe(400);
      expect(viaApi.body, what).toMatchObject({ error: 'InvalidCiphertext' });
    }
    // The same object untouched downloads: the refusals above were the tampering's.
    await s3.send(new PutObjectCommand({ Bucket, Key, Body: original, Metadata: metadata }));
    await downloadDocument(t.client(KEY_USER), Key, out);
    expect(sha(readFileSync(out))).toBe(sha(bytes));
  });

  it('answers an upload only to its creator, and refuses callers who may not encrypt', async () => {
    const created = await t.client(KEY_USER).raw('POST', '/v1/uploads', {
      key: 'uploads/private.bin',
      keyId: 'alias/eaas-default',
      size: 10,
    });
    expect(created.status).toBe(200);
    const id = (created.body as { id: string }).id;
    expect((await t.client(KEY_USER).raw('GET', `/v1/uploads/${id}`)).status).toBe(200);
    for (const who of [KEY_MANAGER, OUTSIDER]) {
      const other = await t.client(who).raw('GET', `/v1/uploads/${id}`);
      expect(other.status).toBe(404);
      expect((await t.client(who).raw('DELETE', `/v1/uploads/${id}`)).status).toBe(404);
    }
    expect((await t.client(KEY_USER).raw('GET', '/v1/uploads/not-an-id')).status).toBe(404);

    const refused = await t.client(KEY_MANAGER).raw('POST', '/v1/uploads', {
      key: 'uploads/by-admin.bin',
      keyId: 'alias/eaas-default',
      size: 10,
    });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ error: 'AccessDenied' });
  });

  it('validates what it is given, with stable codes', async () => {
    const c = t.client(KEY_USER);
    const cases: [Record<string, unknown>, number, string][] = [
      [{ key: 'a', keyId: 'alias/eaas-default', size: 6 * 1024 ** 3 }, 413, 'PayloadTooLarge'],
      [{ key: 'a', keyId: 'alias/eaas-default', size: -1 }, 400, 'ValidationError'],
      [{ key: 'a', keyId: 'alias/eaas-default', size: 1.5 }, 400, 'ValidationError'],
      [{ key: 'a/../b', keyId: 'alias/eaas-default', size: 1 }, 400, 'ValidationError'],
      [{ key: 'x.instruction', keyId: 'alias/eaas-default', size: 1 }, 400, 'ValidationError'],
      // Issue 12: a name with no room for <key>.instruction, a key the S3 Encryption Client reserves.
      [{ key: `L/${'a'.repeat(1011)}`, keyId: 'alias/eaas-default', size: 1 }, 400, 'ValidationError'],
      [
        { key: 'a', keyId: 'alias/eaas-default', size: 1, context: { kms_cmk_id: 'x' } },
        400,
        'ValidationError',
      ],
      [{ keyId: 'alias/eaas-default', size: 1 }, 400, 'ValidationError'],
      [{ key: 'a', keyId: 'alias/nope', size: 1 }, 403, 'AccessDenied'],
    ];
    for (const [body, status, code] of cases) {
      const res = await c.raw('POST', '/v1/uploads', body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body).toMatchObject({ error: code });
    }
  });

  it('refuses a body larger than announced at S3, and a completion with missing parts', async () => {
    const c = t.client(KEY_USER);
    const created = (
      await c.raw('POST', '/v1/uploads', { key: 'uploads/liar.bin', keyId: 'alias/eaas-default', size: 100 })
    ).body as { id: string; url: string; headers: Record<string, string> };
    const res = await fetch(created.url, { method: 'PUT', body: randomBytes(101), headers: created.headers });
    expect(res.status).toBe(403);
    expect(await stagingKeys(t)).not.toContain(`incoming/${created.id}`);
    expect((await c.raw('GET', `/v1/uploads/${created.id}`)).body).toMatchObject({ state: 'pending' });

    const multi = (
      await c.raw('POST', '/v1/uploads', {
        key: 'uploads/parts.bin',
        keyId: 'alias/eaas-default',
        size: 17 * 1024 * 1024,
      })
    ).body as { id: string; parts: { partNumber: number; url: string; size: number }[] };
    expect(multi.parts.map((p) => p.size)).toEqual([8 * 1024 * 1024, 8 * 1024 * 1024, 1024 * 1024]);
    const first = multi.parts[0] as { url: string; size: number };
    const put = await fetch(first.url, { method: 'PUT', body: randomBytes(first.size) });
    expect(put.status).toBe(200);
    const done = await c.raw('POST', `/v1/uploads/${multi.id}/complete`, {
      parts: [{ partNumber: 1, etag: put.headers.get('etag') }],
    });
    expect(done.status).toBe(400);
    expect(done.body).toMatchObject({ error: 'ValidationError' });
    // Every part listed, but ETags S3 never gave: S3's InvalidPart is the caller's 400, not a 5xx.
    const forged = await c.raw('POST', `/v1/uploads/${multi.id}/complete`, {
      parts: multi.parts.map((p) => ({
        partNumber: p.partNumber,
        etag: '"00000000000000000000000000000000"',
      })),
    });
    expect(forged.status).toBe(400);
    expect(forged.body).toMatchObject({ error: 'ValidationError' });
    const cancelled = await c.raw('DELETE', `/v1/uploads/${multi.id}`);
    expect(cancelled.body).toMatchObject({ state: 'failed', error: { code: 'Cancelled' } });
    expect(
      (await c.raw('POST', `/v1/uploads/${multi.id}/complete`, { parts: [{ partNumber: 1, etag: 'x' }] }))
        .status,
    ).toBe(409);
  });

  it('is idempotent on a duplicated event and seals once on two concurrent ones', async () => {
    const before = events.length;
    const status = await uploadDocument(t.client(KEY_USER), {
      key: 'uploads/dup.bin',
      keyId: 'alias/eaas-default',
      bytes: Buffer.from('delivered twice'),
    });
    const record = events.slice(before).find((e) => e.s3.object.key === `incoming/${status.id}`);
    expect(record).toBeDefined();
    const etag = (await vaultHead(t, 'uploads/dup.bin'))?.ETag;
    // S3 may deliver an event more than once: the second delivery changes nothing.
    expect(await t.stack.uploads.seal(status.id)).toBe('sealed');
    expect((await vaultHead(t, 'uploads/dup.bin'))?.ETag).toBe(etag);

    // Two deliveries at once, before any seal: one seals, the other finds it held or done.
    const held: { record?: S3EventRecord } = {};
    const t2 = await startTestStack({
      seal: async (r) => {
        held.record = r;
      },
    });
    try {
      const created = (
        await t2.client(KEY_USER).raw('POST', '/v1/uploads', {
          key: 'uploads/race.bin',
          keyId: 'alias/eaas-default',
          size: 5,
        })
      ).body as { id: string; url: string; headers: Record<string, string> };
      await fetch(created.url, { method: 'PUT', body: Buffer.from('raced'), headers: created.headers });
      await t2.stack.s3.notificationsDelivered();
      expect(held.record).toBeDefined();
      const outcomes = await Promise.all([
        t2.stack.uploads.seal(created.id),
        t2.stack.uploads.seal(created.id),
      ]);
      // The lease is a conditional write: exactly one of the two takes it.
      expect([...outcomes].sort()).toEqual(['busy', 'sealed']);
      const final = (await t2.client(KEY_USER).raw('GET', `/v1/uploads/${created.id}`)).body as {
        state: string;
        object: { etag: string };
      };
      expect(final.state).toBe('sealed');
      expect((await vaultHead(t2, 'uploads/race.bin'))?.ETag).toBe(final.object.etag);
      const read = await t2.client(KEY_USER).rawBytes('GET', '/v1/objects/uploads%2Frace.bin');
      expect(Buffer.from(read.bytes).toString()).toBe('raced');
    } finally {
      await t2.stop();
    }
  });

  it('with overwrite false, fails Conflict when the key was taken meanwhile, and the other object survives', async () => {
    const c = t.client(KEY_USER);
    const created = (
      await c.raw('POST', '/v1/uploads', {
        key: 'uploads/taken.txt',
        keyId: 'alias/eaas-default',
        size: 5,
        overwrite: false,
      })
    ).body as { id: string; url: string; headers: Record<string, string> };
    // Someone stores the key between the start of the upload and its seal.
    const first = await c.rawBytes('PUT', '/v1/objects/uploads%2Ftaken.txt', Buffer.from('first'), {
      keyId: 'alias/eaas-default',
    });
    expect(first.status).toBe(200);
    await fetch(created.url, { method: 'PUT', body: Buffer.from('later'), headers: created.headers });
    await t.stack.s3.notificationsDelivered();
    const status = (await c.raw('GET', `/v1/uploads/${created.id}`)).body;
    expect(status).toMatchObject({ state: 'failed', error: { code: 'Conflict' } });
    const read = await c.rawBytes('GET', '/v1/objects/uploads%2Ftaken.txt');
    expect(Buffer.from(read.bytes).toString()).toBe('first');
    expect(await stagingKeys(t)).not.toContain(`incoming/${created.id}`);
    // Starting one for a key that exists is refused at once.
    const again = await c.raw('POST', '/v1/uploads', {
      key: 'uploads/taken.txt',
      keyId: 'alias/eaas-default',
      size: 1,
      overwrite: false,
    });
    expect(again.status).toBe(409);
  });

  it('a seal cut off mid-stream, or killed, leaves no vault object and keeps the staging object; the sweep seals it', async () => {
    const bytes = randomBytes(18 * 1024 * 1024);
    // Hold the staging event back, so that the seals below are the only ones.
    const held = await startTestStack({ env: { EAAS_SEAL_LEASE_SECONDS: '1' }, seal: async () => undefined });
    try {
      const hc = held.client(KEY_USER);
      const created = await uploadDocument(
        hc,
        { key: 'uploads/crash.bin', keyId: 'alias/eaas-default', bytes },
        { waitForSeal: false },
      );
      await held.stack.s3.notificationsDelivered();
      // Staging as the seal function reads it: only its role may read uploads (the staging
      // bucket's policy).
      const staging = new S3ObjectStore(held.roleS3('seal'), held.config.stagingBucket);
      const vault = new S3ObjectStore(held.stack.serviceS3, held.config.vaultBucket);
      const keys = new KmsKeyAdmin(held.stack.serviceKms);
      const options = { version: 'v3' as const, urlSeconds: 60, maxUploadBytes: 2 ** 40, leaseSeconds: 1 };
      /** The staging area, its object's body cut (or stalled) after 10 MiB. */
      const cut = (mode: 'error' | 'stall', streams: Readable[]) =>
        Object.assign(Object.create(staging) as S3ObjectStore, {
          async get(key: string, o?: { ifMatch?: string }) {
            const object = await staging.get(key, o);
            if (!key.startsWith('incoming/')) return object;
            let seen = 0;
            const body = new Readable({ read() {} });
            streams.push(body);
            (object.body as Readable).on('data', (chunk: Buffer) => {
              if (seen >= 10 * 1024 * 1024) return;
              seen += chunk.length;
              body.push(chunk);
              if (seen >= 10 * 1024 * 1024 && mode === 'error') body.destroy(new Error('connection reset'));
            });
            return { ...object, body };
          },
        });

      // Cut off: the seal fails, releases its lease, aborts its multipart upload; nothing visible.
      const streams: Readable[] = [];
      const documents = new DocumentService(keys, vault);
      const broken = new UploadService(keys, documents, cut('error', streams), vault, options);
      await expect(broken.seal(created.id)).rejects.toThrow();
      expect((await hc.raw('GET', `/v1/uploads/${created.id}`)).body).toMatchObject({ state: 'pending' });
      expect(await vaultHead(held, 'uploads/crash.bin')).toBeUndefined();
      expect(await stagingKeys(held)).toContain(`incoming/${created.id}`);

      // Killed: a seal stalls for ever holding its lease; once the lease expires the sweep takes over.
      const stalled = new UploadService(keys, documents, cut('stall', streams), vault, options);
      const dying = stalled.seal(created.id).catch(() => 'died');
      await new Promise((r) => setTimeout(r, 300));
      expect(await held.stack.uploads.sweep()).toMatchObject({ sealed: 0 });
      await new Promise((r) => setTimeout(r, 1100));
      expect(await held.stack.uploads.sweep()).toMatchObject({ sealed: 1 });
      for (const s of streams) s.destroy(new Error('killed'));
      expect(await dying).toBe('died');

      const status = (await hc.raw('GET', `/v1/uploads/${created.id}`)).body as {
        state: string;
        object: { etag: string };
      };
      expect(status.state).toBe('sealed');
      // The dead seal's late failure changed nothing: the object is the sweep's, and whole.
      expect((await vaultHead(held, 'uploads/crash.bin'))?.ETag).toBe(status.object.etag);
      const out = join(work, 'crash.out');
      await downloadDocument(hc, 'uploads/crash.bin', out);
      expect(sha(readFileSync(out))).toBe(sha(bytes));
      expect(await stagingKeys(held)).toEqual([]);
    } finally {
      await held.stop();
    }
  });
});

describe('what an upload may replace, and what reaches the vault', () => {
  const arn = (name: string) => `arn:aws:iam::${t.config.accountId}:user/${name}`;

  it("refuses to let another principal's key replace a document, by upload or by PUT", async () => {
    const owner = t.client(KEY_USER);
    await owner.rawBytes('PUT', '/v1/objects/victim%2Fdoc.txt', Buffer.from("the owner's"), {
      keyId: 'alias/eaas-default',
    });
    // myGrantee is the user of a key of its own (made by an administrator), not of the owner's key.
    const created = await t
      .client(KEY_MANAGER)
      .raw('POST', '/v1/keys', { description: 'other', users: [arn(GRANTEE)] });
    const otherKey = (created.body as { key: { keyId: string } }).key.keyId;
    const grantee = t.client(GRANTEE);
    const upload = await grantee.raw('POST', '/v1/uploads', {
      key: 'victim/doc.txt',
      keyId: otherKey,
      size: 5,
    });
    expect(upload.status).toBe(403);
    expect(upload.body).toMatchObject({ error: 'AccessDenied' });
    const put = await grantee.rawBytes('PUT', '/v1/objects/victim%2Fdoc.txt', Buffer.from('taken'), {
      keyId: otherKey,
    });
    expect(put.status).toBe(403);
    // The grantee may not decrypt it either: deleting it is answered as for a missing name.
    expect((await grantee.raw('DELETE', '/v1/objects/victim%2Fdoc.txt')).status).toBe(404);
    const read = await owner.rawBytes('GET', '/v1/objects/victim%2Fdoc.txt');
    expect(Buffer.from(read.bytes).toString()).toBe("the owner's");
    // Its owner may replace it, with an upload too.
    const mine = await uploadDocument(owner, {
      key: 'victim/doc.txt',
      keyId: 'alias/eaas-default',
      bytes: Buffer.from('v2'),
    });
    expect(mine.state).toBe('sealed');
  });

  it('replaces only the version its owner was allowed to replace: one rewritten meanwhile fails Conflict, intact', async () => {
    const c = t.client(KEY_USER);
    const put = (body: string) =>
      c.rawBytes('PUT', '/v1/objects/uploads%2Fmoving.txt', Buffer.from(body), {
        keyId: 'alias/eaas-default',
      });
    expect((await put('v1')).status).toBe(200);
    const created = (
      await c.raw('POST', '/v1/uploads', { key: 'uploads/moving.txt', keyId: 'alias/eaas-default', size: 2 })
    ).body as { id: string; url: string; headers: Record<string, string> };
    // Rewritten between the start of the upload (which may replace v1) and its seal.
    expect((await put('v2')).status).toBe(200);
    await fetch(created.url, { method: 'PUT', body: Buffer.from('v3'), headers: created.headers });
    await t.stack.s3.notificationsDelivered();
    expect((await c.raw('GET', `/v1/uploads/${created.id}`)).body).toMatchObject({
      state: 'failed',
      error: { code: 'Conflict' },
    });
    const read = await c.rawBytes('GET', '/v1/objects/uploads%2Fmoving.txt');
    expect(Buffer.from(read.bytes).toString()).toBe('v2');
  });

  it('a conflicting upload with an instruction-file header leaves the existing document readable', async () => {
    // A context this large does not fit S3's 2 KB of metadata: the header goes to <key>.instruction.
    const big = { note: 'x'.repeat(1000), more: 'z'.repeat(1000), tenant: 'acme' };
    const c = t.client(KEY_USER);
    const created = (
      await c.raw('POST', '/v1/uploads', {
        key: 'ins/doc.txt',
        keyId: 'alias/eaas-default',
        size: 5,
        context: big,
        overwrite: false,
      })
    ).body as { id: string; url: string; headers: Record<string, string> };
    const first = await c.rawBytes('PUT', '/v1/objects/ins%2Fdoc.txt', Buffer.from('first'), {
      keyId: 'alias/eaas-default',
      context: JSON.stringify({ other: 'y'.repeat(1000), again: 'w'.repeat(1000) }),
    });
    expect(first.status).toBe(200);
    await fetch(created.url, { method: 'PUT', body: Buffer.from('later'), headers: created.headers });
    await t.stack.s3.notificationsDelivered();
    expect((await c.raw('GET', `/v1/uploads/${created.id}`)).body).toMatchObject({
      state: 'failed',
      error: { code: 'Conflict' },
    });
    const read = await c.rawBytes('GET', '/v1/objects/ins%2Fdoc.txt');
    expect(read.status).toBe(200);
    expect(Buffer.from(read.bytes).toString()).toBe('first');
    // Without a conflict, the instruction-file header is written with the object and reads back.
    const sealed = await uploadDocument(c, {
      key: 'ins/free.txt',
      keyId: 'alias/eaas-default',
      bytes: Buffer.from('large context'),
      context: big,
    });
    expect(sealed.state).toBe('sealed');
    const view = (await c.raw('GET', '/v1/objects/ins%2Ffree.txt', undefined, { metadata: '' })).body;
    expect(view).toMatchObject({ instructionFile: true, context: big });
    expect(Buffer.from((await c.rawBytes('GET', '/v1/objects/ins%2Ffree.txt')).bytes).toString()).toBe(
      'large context',
    );
  });

  it('a presigned PUT writes staging once: a second PUT is refused while pending, and one after the seal changes nothing', async () => {
    const held = await startTestStack({ seal: async () => undefined });
    try {
      const c = held.client(KEY_USER);
      const created = (
        await c.raw('POST', '/v1/uploads', { key: 'once.txt', keyId: 'alias/eaas-default', size: 4 })
      ).body as { id: string; url: string; headers: Record<string, string> };
      expect(created.headers).toEqual({ 'If-None-Match': '*' });
      const unsigned = await fetch(created.url, { method: 'PUT', body: Buffer.from('nope') });
      expect(unsigned.status).toBe(403);
      expect(
        (await fetch(created.url, { method: 'PUT', body: Buffer.from('one!'), headers: created.headers }))
          .status,
      ).toBe(200);
      const again = await fetch(created.url, {
        method: 'PUT',
        body: Buffer.from('two!'),
        headers: created.headers,
      });
      expect(again.status).toBe(412);
      expect(await held.stack.uploads.seal(created.id)).toBe('sealed');
      const etag = (await vaultHead(held, 'once.txt'))?.ETag;
      // After the seal the staging object is gone, so the link writes once more: the seal ignores it.
      expect(
        (await fetch(created.url, { method: 'PUT', body: Buffer.from('3rd!'), headers: created.headers }))
          .status,
      ).toBe(200);
      expect(await held.stack.uploads.seal(created.id)).toBe('sealed');
      expect((await vaultHead(held, 'once.txt'))?.ETag).toBe(etag);
      expect(await stagingKeys(held)).toEqual([]);
      expect(Buffer.from((await c.rawBytes('GET', '/v1/objects/once.txt')).bytes).toString()).toBe('one!');
    } finally {
      await held.stop();
    }
  });

  it('a seal whose instruction file cannot be written leaves no half-written document (issue 12, finding 6)', async () => {
    const held = await startTestStack({ seal: async () => undefined });
    try {
      const c = held.client(KEY_USER);
      const big = { tenant: 'acme', note: 'x'.repeat(1000), more: 'z'.repeat(1000) };
      const start = async (text: string) => {
        const created = await uploadDocument(
          c,
          { key: 'half/sealed.txt', keyId: 'alias/eaas-default', bytes: Buffer.from(text), context: big },
          { waitForSeal: false },
        );
        await held.stack.s3.notificationsDelivered();
        return created.id;
      };
      // Staging as the seal function reads it: only its role may read uploads (the staging
      // bucket's policy).
      const staging = new S3ObjectStore(held.roleS3('seal'), held.config.stagingBucket);
      const vault = new S3ObjectStore(held.stack.serviceS3, held.config.vaultBucket);
      const keys = new KmsKeyAdmin(held.stack.serviceKms);
      const options = { version: 'v3' as const, urlSeconds: 60, maxUploadBytes: 2 ** 40, leaseSeconds: 60 };
      /** The vault, its instruction files refused with `error`. */
      const refusing = (error: DomainError) =>
        Object.assign(Object.create(vault) as S3ObjectStore, {
          async put(key: string, body: Uint8Array, o: Parameters<S3ObjectStore['put']>[2]) {
            if (key.endsWith('.instruction')) throw error;
            return vault.put(key, body, o);
          },
        });
      const sealWith = (store: S3ObjectStore) =>
        new UploadService(keys, new DocumentService(keys, store), staging, store, options);

      // A transient refusal: the seal is retried, and what it wrote is never shown meanwhile.
      const first = await start('first');
      const flaky = sealWith(refusing(new DomainError('DependencyFailure', 'S3 did not answer.')));
      await expect(flaky.seal(first)).rejects.toMatchObject({ code: 'DependencyFailure' });
      expect((await c.rawBytes('GET', '/v1/objects/half%2Fsealed.txt')).status).toBe(404);
      expect(await held.stack.uploads.seal(first)).toBe('sealed');
      expect(Buffer.from((await c.rawBytes('GET', '/v1/objects/half%2Fsealed.txt')).bytes).toString()).toBe(
        'first',
      );

      // A refusal that ends the upload: the object it wrote goes with it, the document it replaced
      // having been replaced; the name then takes a new upload.
      const second = await start('second');
      const broken = sealWith(refusing(new ValidationError('S3 refused the instruction file.')));
      expect(await broken.seal(second)).toBe('failed');
      expect((await c.raw('GET', `/v1/uploads/${second}`)).body).toMatchObject({
        state: 'failed',
        error: { code: 'SealFailed' },
      });
      expect(await vaultHead(held, 'half/sealed.txt')).toBeUndefined();
      expect(await vaultHead(held, 'half/sealed.txt.instruction')).toBeUndefined();
      expect((await c.rawBytes('GET', '/v1/objects/half%2Fsealed.txt')).status).toBe(404);
      expect((await c.raw('DELETE', '/v1/objects/half%2Fsealed.txt')).status).toBe(404);
      const third = await start('third');
      expect(await held.stack.uploads.seal(third)).toBe('sealed');
      expect(Buffer.from((await c.rawBytes('GET', '/v1/objects/half%2Fsealed.txt')).bytes).toString()).toBe(
        'third',
      );
    } finally {
      await held.stop();
    }
  });

  it('never seals a staging read that ends early; the next seal reads it whole', async () => {
    const held = await startTestStack({ seal: async () => undefined });
    try {
      const c = held.client(KEY_USER);
      const bytes = randomBytes(100_000);
      const created = await uploadDocument(
        c,
        { key: 'short.bin', keyId: 'alias/eaas-default', bytes },
        { waitForSeal: false },
      );
      await held.stack.s3.notificationsDelivered();
      // Staging as the seal function reads it: only its role may read uploads (the staging
      // bucket's policy).
      const staging = new S3ObjectStore(held.roleS3('seal'), held.config.stagingBucket);
      const vault = new S3ObjectStore(held.stack.serviceS3, held.config.vaultBucket);
      const keys = new KmsKeyAdmin(held.stack.serviceKms);
      // The staging body ends cleanly after 1,000 bytes, as a cut connection can look.
      const short = Object.assign(Object.create(staging) as S3ObjectStore, {
        async get(key: string, o?: { ifMatch?: string }) {
          const object = await staging.get(key, o);
          if (!key.startsWith('incoming/')) return object;
          const all = Buffer.concat(await (object.body as Readable).toArray());
          return { ...object, body: Readable.from([all.subarray(0, 1000)]) };
        },
      });
      const options = { version: 'v3' as const, urlSeconds: 60, maxUploadBytes: 2 ** 40, leaseSeconds: 60 };
      const service = new UploadService(keys, new DocumentService(keys, vault), short, vault, options);
      expect(await service.seal(created.id)).toBe('busy');
      expect(await vaultHead(held, 'short.bin')).toBeUndefined();
      expect((await c.raw('GET', `/v1/uploads/${created.id}`)).body).toMatchObject({ state: 'pending' });
      expect(await held.stack.uploads.seal(created.id)).toBe('sealed');
      const read = await c.rawBytes('GET', '/v1/objects/short.bin');
      expect(sha(read.bytes)).toBe(sha(bytes));
    } finally {
      await held.stop();
    }
  });

  it("stops at the seal when the owner's right was revoked after the upload began", async () => {
    const manager = t.client(KEY_MANAGER);
    const created = await manager.raw('POST', '/v1/keys', { description: 'revocable' });
    const key = (created.body as { key: { keyId: string } }).key.keyId;
    const grant = (
      await manager.raw('POST', `/v1/keys/${key}/grants`, {
        grantee: arn(GRANTEE),
        operations: ['Encrypt', 'Decrypt'],
      })
    ).body as { grantId: string };
    const grantee = t.client(GRANTEE);
    const upload = (await grantee.raw('POST', '/v1/uploads', { key: 'revoked/doc.txt', keyId: key, size: 5 }))
      .body as {
      id: string;
      url: string;
      headers: Record<string, string>;
    };
    expect(upload.id).toMatch(/^[0-9a-f]{32}$/);
    expect((await manager.raw('DELETE', `/v1/keys/${key}/grants/${grant.grantId}`)).status).toBe(200);
    await fetch(upload.url, { method: 'PUT', body: Buffer.from('after'), headers: upload.headers });
    await t.stack.s3.notificationsDelivered();
    expect((await grantee.raw('GET', `/v1/uploads/${upload.id}`)).body).toMatchObject({
      state: 'failed',
      error: { code: 'SealFailed' },
    });
    expect(await vaultHead(t, 'revoked/doc.txt')).toBeUndefined();
    expect(await stagingKeys(t)).not.toContain(`incoming/${upload.id}`);
  });

  it('refuses a content type that is not a media type', async () => {
    for (const contentType of [
      'a\nb',
      'x\r\nX-Injected: 1',
      'text/plain; charset=é',
      'noslash',
      'text/html; <script>',
      'text/plain;\n charset=utf-8',
    ]) {
      const res = await t.client(KEY_USER).raw('POST', '/v1/uploads', {
        key: 'ct.bin',
        keyId: 'alias/eaas-default',
        size: 1,
        contentType,
      });
      expect(res.status, contentType).toBe(400);
      expect(res.body).toMatchObject({ error: 'ValidationError' });
    }
    const ok = await t.client(KEY_USER).raw('POST', '/v1/uploads', {
      key: 'ct.bin',
      keyId: 'alias/eaas-default',
      size: 1,
      contentType: 'text/plain; charset="utf-8"',
    });
    expect(ok.status).toBe(200);
  });
});

describe('links that expire', () => {
  let short: TestStack;
  beforeAll(async () => {
    short = await startTestStack({ env: { EAAS_UPLOAD_URL_SECONDS: '1' } });
  });
  afterAll(() => short.stop());

  it('refuses an expired presigned PUT, and the upload ends failed/Expired with nothing staged', async () => {
    const c = short.client(KEY_USER);
    const created = (
      await c.raw('POST', '/v1/uploads', { key: 'late.bin', keyId: 'alias/eaas-default', size: 4 })
    ).body as { id: string; url: string; headers: Record<string, string> };
    await new Promise((r) => setTimeout(r, 2100));
    const res = await fetch(created.url, {
      method: 'PUT',
      body: Buffer.from('late'),
      headers: created.headers,
    });
    expect(res.status).toBe(403);
    expect(await res.text()).toMatch(/expired/i);
    const status = (await c.raw('GET', `/v1/uploads/${created.id}`)).body;
    expect(status).toMatchObject({ state: 'failed', error: { code: 'Expired' } });
    expect(await stagingKeys(short)).toEqual([]);
    expect(await vaultHead(short, 'late.bin')).toBeUndefined();
  });
});
