import { createCipheriv, createDecipheriv, type DecipherGCM, hkdfSync, randomBytes } from 'node:crypto';
import { DecryptCommand, GenerateDataKeyCommand } from '@aws-sdk/client-kms';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawResponse } from '../../src/client/index.js';
import { KEY_MANAGER, KEY_USER, OUTSIDER, SERVICE } from '../../src/local/identity.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * Documents through PUT/GET/HEAD/DELETE /v1/objects, stored in the local S3 in the S3 Encryption
 * Client format; read back by an implementation of the format written here from the
 * specification alone (AWS Encryption SDK specification, s3-encryption/), and objects written by
 * that implementation read through the API.
 */

let t: TestStack;
let bucket: string;
const acme = { tenant: 'acme' };

async function put(
  key: string,
  body: Buffer,
  query: Record<string, string>,
  who = KEY_USER,
): Promise<RawResponse> {
  const client = t.client(who);
  return client.rawBytes('PUT', `/v1/objects/${encodeURIComponent(key)}`, body, query, 'text/plain');
}

/** HKDF-SHA512 of suite 0x0073, from the specification's key-derivation section. */
function v3Keys(dataKey: Buffer, messageId: Buffer) {
  const info = (label: string) => Buffer.concat([Buffer.from([0x00, 0x73]), Buffer.from(label)]);
  return {
    key: Buffer.from(hkdfSync('sha512', dataKey, messageId, info('DERIVEKEY'), 32)),
    commitment: Buffer.from(hkdfSync('sha512', dataKey, messageId, info('COMMITKEY'), 28)),
  };
}

beforeAll(async () => {
  t = await startTestStack();
  bucket = t.config.vaultBucket;
});
afterAll(() => t.stop());

describe('PUT and GET /v1/objects/{key}', () => {
  it('stores S3EC V3 that another implementation reads, and reads it back with its metadata', async () => {
    const body = Buffer.from('quarterly numbers\n'.repeat(100));
    const res = await put('reports/q3.txt', body, {
      keyId: 'alias/eaas-default',
      context: JSON.stringify(acme),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ key: 'reports/q3.txt', format: 's3ec-v3', size: body.length });

    // Straight from S3 as the service's role, and KMS Decrypt of the wrapped key: no service code.
    const stored = await t.s3(SERVICE).send(new GetObjectCommand({ Bucket: bucket, Key: 'reports/q3.txt' }));
    const m = stored.Metadata ?? {};
    expect(m['x-amz-c']).toBe('115');
    expect(m['x-amz-w']).toBe('12');
    expect(JSON.parse(m['x-amz-t'] ?? '{}')).toEqual({ tenant: 'acme', 'aws:x-amz-cek-alg': '115' });
    expect(m['eaas-owner']).toBe(t.principal(KEY_USER).arn);
    const ciphertext = Buffer.from(
      await (stored.Body?.transformToByteArray() ?? Promise.resolve(new Uint8Array())),
    );
    expect(ciphertext.includes(Buffer.from('quarterly'))).toBe(false);
    const { Plaintext } = await t.kms(SERVICE).send(
      new DecryptCommand({
        CiphertextBlob: Buffer.from(m['x-amz-3'] ?? '', 'base64'),
        EncryptionContext: JSON.parse(m['x-amz-t'] ?? '{}'),
      }),
    );
    const dataKey = Buffer.from(Plaintext ?? new Uint8Array());
    const { key, commitment } = v3Keys(dataKey, Buffer.from(m['x-amz-i'] ?? '', 'base64'));
    expect(commitment.toString('base64')).toBe(m['x-amz-d']);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.alloc(12, 1)) as DecipherGCM;
    decipher.setAAD(Buffer.from([0x00, 0x73]));
    decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
    const opened = Buffer.concat([
      decipher.update(ciphertext.subarray(0, ciphertext.length - 16)),
      decipher.final(),
    ]);
    expect(opened.equals(body)).toBe(true);

    const got = await t
      .client(KEY_USER)
      .rawBytes('GET', `/v1/objects/${encodeURIComponent('reports/q3.txt')}`);
    expect(got.status).toBe(200);
    expect(Buffer.from(got.bytes).equals(body)).toBe(true);
    expect(got.headers.get('content-type')).toBe('text/plain');
    expect(JSON.parse(got.headers.get('x-eaas-context') ?? '{}')).toEqual(acme);

    const view = await t
      .client(KEY_USER)
      .raw('GET', `/v1/objects/${encodeURIComponent('reports/q3.txt')}`, undefined, {
        metadata: '',
      });
    expect(view.body).toMatchObject({
      key: 'reports/q3.txt',
      format: 's3ec-v3',
      size: body.length,
      storedSize: body.length + 16,
      context: acme,
      owner: t.principal(KEY_USER).arn,
      instructionFile: false,
    });
    expect(JSON.stringify(view.body)).not.toContain(m['x-amz-3'] ?? 'none');
  });

  it('reads an object another S3EC writer made (V3, written here from the specification)', async () => {
    const context = { 'aws:x-amz-cek-alg': '115', tenant: 'acme' };
    const dk = await t.kms(KEY_USER).send(
      new GenerateDataKeyCommand({
        KeyId: 'alias/eaas-default',
        KeySpec: 'AES_256',
        EncryptionContext: context,
      }),
    );
    const dataKey = Buffer.from(dk.Plaintext ?? new Uint8Array());
    const messageId = randomBytes(28);
    const { key, commitment } = v3Keys(dataKey, messageId);
    const cipher = createCipheriv('aes-256-gcm', key, Buffer.alloc(12, 1));
    cipher.setAAD(Buffer.from([0x00, 0x73]));
    const plaintext = Buffer.from('written by another client');
    const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    await t.s3(SERVICE).send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'foreign/v3.txt',
        Body: body,
        Metadata: {
          'x-amz-c': '115',
          'x-amz-3': Buffer.from(dk.CiphertextBlob ?? new Uint8Array()).toString('base64'),
          'x-amz-w': '12',
          'x-amz-t': JSON.stringify(context),
          'x-amz-d': commitment.toString('base64'),
          'x-amz-i': messageId.toString('base64'),
        },
      }),
    );
    const got = await t
      .client(KEY_USER)
      .rawBytes('GET', `/v1/objects/${encodeURIComponent('foreign/v3.txt')}`);
    expect(got.status).toBe(200);
    expect(Buffer.from(got.bytes).toString()).toBe('written by another client');
    // An outsider gets the uniform failure: the service did not record the key, so KMS is asked first.
    const outsider = await t
      .client(OUTSIDER)
      .rawBytes('GET', `/v1/objects/${encodeURIComponent('foreign/v3.txt')}`);
    expect(outsider.status).toBe(400);
  });

  it('a tampered byte anywhere makes the read fail without releasing plaintext', async () => {
    const body = randomBytes(5000);
    expect((await put('tamper/me.bin', body, { keyId: 'alias/eaas-default' })).status).toBe(200);
    const s3 = t.s3(SERVICE);
    const stored = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'tamper/me.bin' }));
    const bytes = Buffer.from(
      await (stored.Body?.transformToByteArray() ?? Promise.resolve(new Uint8Array())),
    );
    for (const at of [0, 2500, bytes.length - 1]) {
      const tampered = Buffer.from(bytes);
      tampered[at] = (tampered[at] as number) ^ 1;
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: 'tamper/me.bin',
          Body: tampered,
          Metadata: stored.Metadata,
        }),
      );
      const got = await t
        .client(KEY_USER)
        .rawBytes('GET', `/v1/objects/${encodeURIComponent('tamper/me.bin')}`);
      expect(got.status, `byte ${at}`).toBe(400);
      expect(Buffer.from(got.bytes).includes(body.subarray(0, 32))).toBe(false);
    }
  });

  it('authorizes as encrypt and decrypt: outsiders and administrators are refused', async () => {
    expect(
      (await put('authz/doc.txt', Buffer.from('x'), { keyId: 'alias/eaas-default' }, OUTSIDER)).status,
    ).toBe(403);
    expect(
      (await put('authz/doc.txt', Buffer.from('x'), { keyId: 'alias/eaas-default' }, KEY_MANAGER)).status,
    ).toBe(403);
    expect((await put('authz/doc.txt', Buffer.from('x'), { keyId: 'alias/eaas-default' })).status).toBe(200);
    for (const who of [OUTSIDER, KEY_MANAGER]) {
      const got = await t.client(who).rawBytes('GET', `/v1/objects/${encodeURIComponent('authz/doc.txt')}`);
      expect(got.status).toBe(403);
    }
    const head = await t.s3(SERVICE).send(new HeadObjectCommand({ Bucket: bucket, Key: 'authz/doc.txt' }));
    expect(head.Metadata?.['eaas-key-arn']).toMatch(/^arn:aws:kms:/);
  });

  it('overwrite=false refuses an existing key; delete removes it; list shows what the caller may read', async () => {
    expect((await put('list/a.txt', Buffer.from('a'), { keyId: 'alias/eaas-default' })).status).toBe(200);
    const again = await put('list/a.txt', Buffer.from('b'), {
      keyId: 'alias/eaas-default',
      overwrite: 'false',
    });
    expect(again.status).toBe(412);
    expect((await put('list/b.txt', Buffer.from('b'), { keyId: 'alias/eaas-default' })).status).toBe(200);
    const listed = await t.client(KEY_USER).raw('GET', '/v1/objects', undefined, { prefix: 'list/' });
    expect((listed.body as { objects: Array<{ key: string }> }).objects.map((o) => o.key)).toEqual([
      'list/a.txt',
      'list/b.txt',
    ]);
    const outsiderList = await t.client(OUTSIDER).raw('GET', '/v1/objects', undefined, { prefix: 'list/' });
    expect((outsiderList.body as { objects: unknown[] }).objects).toEqual([]);
    const del = await t.client(KEY_USER).raw('DELETE', `/v1/objects/${encodeURIComponent('list/a.txt')}`);
    expect(del.body).toMatchObject({ key: 'list/a.txt', deleted: true });
    expect(
      (await t.client(KEY_USER).rawBytes('GET', `/v1/objects/${encodeURIComponent('list/a.txt')}`)).status,
    ).toBe(404);
  });

  it('refuses bad keys and contexts with clear 400s', async () => {
    expect((await put('x.instruction', Buffer.from('x'), { keyId: 'alias/eaas-default' })).status).toBe(400);
    expect((await put('a/../b', Buffer.from('x'), { keyId: 'alias/eaas-default' })).status).toBe(400);
    expect(
      (await put('ok.txt', Buffer.from('x'), { keyId: 'alias/eaas-default', context: '{"t":"é"}' })).status,
    ).toBe(400);
    expect(
      (await put('ok.txt', Buffer.from('x'), { keyId: 'alias/eaas-default', context: 'nope' })).status,
    ).toBe(400);
    expect((await put('ok.txt', Buffer.from('x'), {})).status).toBe(400);
  });
});

describe('configured for V2 (EAAS_ENVELOPE_VERSION=v2)', () => {
  it('writes S3EC V2 that another implementation reads, and reads it back', async () => {
    const v2 = await startTestStack({ env: { EAAS_ENVELOPE_VERSION: 'v2' } });
    try {
      const body = Buffer.from('a V2 document');
      const res = await v2
        .client(KEY_USER)
        .rawBytes('PUT', `/v1/objects/${encodeURIComponent('v2/doc.txt')}`, body, {
          keyId: 'alias/eaas-default',
          context: JSON.stringify(acme),
        });
      expect(res.body).toMatchObject({ format: 's3ec-v2', size: body.length });
      const stored = await v2
        .s3(SERVICE)
        .send(new GetObjectCommand({ Bucket: v2.config.vaultBucket, Key: 'v2/doc.txt' }));
      const m = stored.Metadata ?? {};
      expect(m['x-amz-cek-alg']).toBe('AES/GCM/NoPadding');
      expect(m['x-amz-wrap-alg']).toBe('kms+context');
      expect(m['x-amz-tag-len']).toBe('128');
      expect(JSON.parse(m['x-amz-matdesc'] ?? '{}')).toEqual({
        tenant: 'acme',
        'aws:x-amz-cek-alg': 'AES/GCM/NoPadding',
      });
      const { Plaintext } = await v2.kms(SERVICE).send(
        new DecryptCommand({
          CiphertextBlob: Buffer.from(m['x-amz-key-v2'] ?? '', 'base64'),
          EncryptionContext: JSON.parse(m['x-amz-matdesc'] ?? '{}'),
        }),
      );
      const ct = Buffer.from(
        await (stored.Body?.transformToByteArray() ?? Promise.resolve(new Uint8Array())),
      );
      const decipher = createDecipheriv(
        'aes-256-gcm',
        Buffer.from(Plaintext ?? new Uint8Array()),
        Buffer.from(m['x-amz-iv'] ?? '', 'base64'),
      ) as DecipherGCM;
      decipher.setAuthTag(ct.subarray(ct.length - 16));
      expect(
        Buffer.concat([decipher.update(ct.subarray(0, ct.length - 16)), decipher.final()]).equals(body),
      ).toBe(true);
      const got = await v2
        .client(KEY_USER)
        .rawBytes('GET', `/v1/objects/${encodeURIComponent('v2/doc.txt')}`);
      expect(Buffer.from(got.bytes).equals(body)).toBe(true);
    } finally {
      await v2.stop();
    }
  });
});
