import { createCipheriv, createDecipheriv, type DecipherGCM, hkdfSync, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import {
  CreateGrantCommand,
  DecryptCommand,
  DescribeKeyCommand,
  GenerateDataKeyCommand,
} from '@aws-sdk/client-kms';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GRANTEE, KEY_MANAGER, KEY_USER, OUTSIDER, SERVICE } from '@eaas/aws-local';
import type { RawResponse } from '@eaas/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KmsKeyAdmin } from '../../src/aws/kms-admin.js';
import { S3ObjectStore } from '../../src/aws/s3.js';
import { encodeHeader, sealer } from '../../src/core/envelope/index.js';
import { DomainError } from '../../src/core/errors.js';
import { AccessControl } from '../../src/services/access.js';
import { DocumentService } from '../../src/services/documents.js';
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
    // An outsider gets the answer for a missing name: the service did not record the key, so KMS
    // is asked first, and the data key is zeroed unseen once the outsider is found not allowed.
    const outsider = await t
      .client(OUTSIDER)
      .rawBytes('GET', `/v1/objects/${encodeURIComponent('foreign/v3.txt')}`);
    expect(outsider.status).toBe(404);
    expect(outsider.body).toMatchObject({ error: 'NotFound' });
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
    // Those who may not decrypt it are told no more than of a missing name.
    for (const who of [OUTSIDER, KEY_MANAGER]) {
      const got = await t.client(who).rawBytes('GET', `/v1/objects/${encodeURIComponent('authz/doc.txt')}`);
      expect(got.status).toBe(404);
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

/** Whether the vault holds `key` (read straight from S3 as the service's role). */
async function stored(key: string): Promise<boolean> {
  try {
    await t.s3(SERVICE).send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (error) {
    if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404)
      return false;
    throw error;
  }
}

/** A context whose S3EC header passes S3's 2 KB of metadata: the header goes to `<key>.instruction`. */
const large = { tenant: 'acme', note: 'n'.repeat(1000), more: 'm'.repeat(1000) };

/**
 * Writes a V3 document straight into the vault as another writer could: any KMS context (keys the
 * API refuses included), the S3EC header in the metadata, with or without this service's own keys.
 */
async function writeDirectly(
  key: string,
  kmsContext: Record<string, string>,
  plaintext: Buffer,
  ours: Record<string, string> = {},
): Promise<void> {
  const dk = await t.kms(SERVICE).send(
    new GenerateDataKeyCommand({
      KeyId: 'alias/eaas-default',
      KeySpec: 'AES_256',
      EncryptionContext: kmsContext,
    }),
  );
  const { header, stream } = sealer({
    version: 'v3',
    dataKey: Buffer.from(dk.Plaintext ?? new Uint8Array()),
    wrappedKey: Buffer.from(dk.CiphertextBlob ?? new Uint8Array()),
    kmsContext,
    plaintextLength: plaintext.length,
  });
  const body = await buffer(Readable.from([plaintext]).pipe(stream));
  await t.s3(SERVICE).send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: body,
      Metadata: { ...encodeHeader(header).metadata, ...ours },
    }),
  );
}

describe('a stored context hides nothing from authorization (issue 12, finding 4)', () => {
  it('refuses context keys the S3 Encryption Client reserves, on PUT and on POST /v1/uploads, with 400 ValidationError', async () => {
    // The attack as reproduced: kms_cmk_id, which AWS's clients leave out when they compare contexts.
    const attack = await put('acme/restricted-doc', Buffer.from('restricted'), {
      keyId: 'alias/eaas-default',
      context: JSON.stringify({ tenant: 'acme', kms_cmk_id: 'restricted' }),
    });
    expect(attack.status).toBe(400);
    expect(attack.body).toMatchObject({
      error: 'ValidationError',
      details: [{ path: 'context.kms_cmk_id' }],
    });
    expect(await stored('acme/restricted-doc')).toBe(false);
    for (const context of [
      { KMS_CMK_ID: 'x' },
      { 'aws:x-amz-cek-alg': '115' },
      { 'aws-crypto-public-key': 'x' },
    ]) {
      const res = await put('acme/other-doc', Buffer.from('x'), {
        keyId: 'alias/eaas-default',
        context: JSON.stringify(context),
      });
      expect(res.status, JSON.stringify(context)).toBe(400);
      expect(res.body).toMatchObject({ error: 'ValidationError' });
      const upload = await t.client(KEY_USER).raw('POST', '/v1/uploads', {
        key: 'acme/other-doc',
        keyId: 'alias/eaas-default',
        size: 1,
        context,
      });
      expect(upload.status, JSON.stringify(context)).toBe(400);
      expect(upload.body).toMatchObject({ error: 'ValidationError' });
    }
    expect(await stored('acme/other-doc')).toBe(false);
  });

  it('authorizes a read with the whole context KMS binds: an equals-{tenant:acme} grant does not open a document with more', async () => {
    const grantee = t.principal(GRANTEE).arn;
    // The administrator's grant of the attack: Decrypt for exactly {"tenant":"acme"}.
    const byApi = await t
      .client(KEY_MANAGER)
      .raw('POST', `/v1/keys/${encodeURIComponent('alias/eaas-default')}/grants`, {
        grantee,
        operations: ['Decrypt'],
        constraints: { encryptionContextEquals: acme },
      });
    expect(byApi.status, JSON.stringify(byApi.body)).toBe(200);
    // And one for exactly what KMS binds for a V3 document of tenant acme (only KMS itself takes an aws: key).
    const { KeyMetadata } = await t
      .kms(SERVICE)
      .send(new DescribeKeyCommand({ KeyId: 'alias/eaas-default' }));
    // Made in KMS by the keys function's role, the one the key policy lets make grants through IAM.
    await t.kms('eaas-local-keys').send(
      new CreateGrantCommand({
        KeyId: KeyMetadata?.Arn,
        GranteePrincipal: grantee,
        Operations: ['Decrypt'],
        Constraints: { EncryptionContextEquals: { ...acme, 'aws:x-amz-cek-alg': '115' } },
      }),
    );
    const plain = Buffer.from('for tenant acme');
    expect(
      (await put('acme/plain-doc', plain, { keyId: 'alias/eaas-default', context: JSON.stringify(acme) }))
        .status,
    ).toBe(200);
    const restricted = { tenant: 'acme', kms_cmk_id: 'restricted', 'aws:x-amz-cek-alg': '115' };
    // Written by another writer, with this service's keys (owner, key ARN) and without.
    await writeDirectly('acme/restricted-doc', restricted, Buffer.from('restricted'), {
      'eaas-key-arn': KeyMetadata?.Arn ?? '',
      'eaas-owner': t.principal(KEY_USER).arn,
    });
    await writeDirectly('acme/restricted-foreign', restricted, Buffer.from('restricted'));

    const reader = t.client(GRANTEE);
    const ok = await reader.rawBytes('GET', `/v1/objects/${encodeURIComponent('acme/plain-doc')}`);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(Buffer.from(ok.bytes).equals(plain)).toBe(true);
    for (const name of ['acme/restricted-doc', 'acme/restricted-foreign']) {
      const path = `/v1/objects/${encodeURIComponent(name)}`;
      const got = await reader.rawBytes('GET', path);
      expect(got.status, name).toBe(404);
      expect(got.body, name).toMatchObject({ error: 'NotFound' });
      expect((await reader.rawBytes('HEAD', path)).status, name).toBe(404);
      expect((await reader.raw('GET', path, undefined, { metadata: '' })).status, name).toBe(404);
      expect((await reader.raw('POST', '/v1/downloads', { key: name })).status, name).toBe(404);
    }
    const listed = await reader.raw('GET', '/v1/objects', undefined, { prefix: 'acme/' });
    expect((listed.body as { objects: { key: string }[] }).objects.map((o) => o.key)).toEqual([
      'acme/plain-doc',
    ]);

    // A user of the key under any context reads it, and sees the whole context but the format's key.
    const owner = await t
      .client(KEY_USER)
      .rawBytes('GET', `/v1/objects/${encodeURIComponent('acme/restricted-doc')}`);
    expect(owner.status).toBe(200);
    expect(JSON.parse(owner.headers.get('x-eaas-context') ?? '{}')).toEqual({
      tenant: 'acme',
      kms_cmk_id: 'restricted',
    });
  });
});

describe('no answer tells a caller that a document it may not decrypt exists', () => {
  it('GET, HEAD, ?metadata, downloads and DELETE answer as for a missing name', async () => {
    expect(
      (
        await put('exists/secret.txt', Buffer.from('s'), {
          keyId: 'alias/eaas-default',
          context: JSON.stringify(acme),
        })
      ).status,
    ).toBe(200);
    const outsider = t.client(OUTSIDER);
    const answer = async (name: string) => {
      const path = `/v1/objects/${encodeURIComponent(name)}`;
      const strip = (body: unknown) =>
        JSON.stringify({ ...(body as object), requestId: undefined }).replaceAll(name, '<name>');
      return [
        await outsider.rawBytes('GET', path).then((r) => [r.status, strip(r.body)]),
        await outsider.rawBytes('HEAD', path).then((r) => [r.status]),
        await outsider.raw('GET', path, undefined, { metadata: '' }).then((r) => [r.status, strip(r.body)]),
        await outsider.raw('POST', '/v1/downloads', { key: name }).then((r) => [r.status, strip(r.body)]),
        await outsider.raw('DELETE', path).then((r) => [r.status, strip(r.body)]),
      ];
    };
    const existing = await answer('exists/secret.txt');
    expect(existing).toEqual(await answer('exists/missing.txt'));
    expect(existing[0]?.[0]).toBe(404);
    expect(await stored('exists/secret.txt')).toBe(true);

    // A name is one space for all: writing over a name another holds is refused (it cannot be
    // hidden without names per caller), naming neither the document's key nor its context.
    const created = await t
      .client(KEY_MANAGER)
      .raw('POST', '/v1/keys', { description: "the grantee's own", users: [t.principal(GRANTEE).arn] });
    const own = (created.body as { key: { keyId: string } }).key.keyId;
    const reader = t.client(GRANTEE);
    const over = await reader.rawBytes('PUT', '/v1/objects/exists%2Fsecret.txt', Buffer.from('x'), {
      keyId: own,
    });
    expect(over.status).toBe(403);
    expect(over.body).toMatchObject({ error: 'AccessDenied' });
    expect(JSON.stringify(over.body)).not.toMatch(/arn:aws:kms|tenant/);

    // A caller who may decrypt it, but not write under its key, knows it exists: 403.
    const grant = await t
      .client(KEY_MANAGER)
      .raw('POST', `/v1/keys/${encodeURIComponent('alias/eaas-default')}/grants`, {
        grantee: t.principal(GRANTEE).arn,
        operations: ['Decrypt'],
      });
    expect(grant.status, JSON.stringify(grant.body)).toBe(200);
    expect((await reader.rawBytes('GET', '/v1/objects/exists%2Fsecret.txt')).status).toBe(200);
    const del = await reader.raw('DELETE', '/v1/objects/exists%2Fsecret.txt');
    expect(del.status).toBe(403);
    expect(del.body).toMatchObject({ error: 'AccessDenied' });
    expect(await stored('exists/secret.txt')).toBe(true);
  });
});

describe('a name too long for its instruction file, and a write that fails half-way (issue 12, finding 6)', () => {
  const long = `L/${'a'.repeat(1018)}`;

  it('refuses up front a name that could not take <key>.instruction: 400, nothing stored, the name still answers', async () => {
    // The attack as reproduced: a context too large for metadata, so the header needs the file.
    const res = await put(long, Buffer.from('x'), {
      keyId: 'alias/eaas-default',
      context: JSON.stringify(large),
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'ValidationError', details: [{ path: 'key' }] });
    expect(await stored(long)).toBe(false);
    // With no context too: whether a header will need the file is not known before the write.
    expect((await put(long, Buffer.from('x'), { keyId: 'alias/eaas-default' })).status).toBe(400);
    const upload = await t
      .client(KEY_USER)
      .raw('POST', '/v1/uploads', { key: long, keyId: 'alias/eaas-default', size: 1 });
    expect(upload.status).toBe(400);
    expect(upload.body).toMatchObject({ error: 'ValidationError' });
    const path = `/v1/objects/${encodeURIComponent(long)}`;
    expect((await t.client(KEY_USER).rawBytes('GET', path)).status).toBe(404);
    expect((await t.client(KEY_USER).raw('DELETE', path)).status).toBe(404);

    // The longest name that fits (1,024 - 12 bytes, no prefix) takes a large context and reads back.
    const longest = `L/${'a'.repeat(1010)}`;
    const stored1012 = await put(longest, Buffer.from('fits'), {
      keyId: 'alias/eaas-default',
      context: JSON.stringify(large),
    });
    expect(stored1012.status, JSON.stringify(stored1012.body)).toBe(200);
    const back = await t
      .client(KEY_USER)
      .raw('GET', `/v1/objects/${encodeURIComponent(longest)}`, undefined, { metadata: '' });
    expect(back.body).toMatchObject({ instructionFile: true, context: large });
    expect(
      (await t.client(KEY_USER).raw('DELETE', `/v1/objects/${encodeURIComponent(longest)}`)).status,
    ).toBe(200);
    expect(await stored(`${longest}.instruction`)).toBe(false);
  });

  it('a document stranded without its instruction file (as the old write left one) answers 404, never 5xx; its owner may remove it', async () => {
    // As the reproduction left it: the object written, its instruction file refused.
    const { KeyMetadata } = await t
      .kms(SERVICE)
      .send(new DescribeKeyCommand({ KeyId: 'alias/eaas-default' }));
    const ours = { 'eaas-key-arn': KeyMetadata?.Arn ?? '', 'eaas-owner': t.principal(KEY_USER).arn };
    await t.s3(SERVICE).send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: long,
        Body: randomBytes(40),
        Metadata: {
          'x-amz-c': '115',
          'x-amz-d': randomBytes(28).toString('base64'),
          'x-amz-i': randomBytes(28).toString('base64'),
          ...ours,
        },
      }),
    );
    const path = `/v1/objects/${encodeURIComponent(long)}`;
    for (const who of [KEY_USER, OUTSIDER]) {
      expect((await t.client(who).rawBytes('GET', path)).status, who).toBe(404);
      expect((await t.client(who).rawBytes('HEAD', path)).status, who).toBe(404);
    }
    expect((await t.client(OUTSIDER).raw('DELETE', path)).status).toBe(404);
    expect(await stored(long)).toBe(true);
    expect((await t.client(KEY_USER).raw('DELETE', path)).status).toBe(200);
    expect(await stored(long)).toBe(false);
  });

  it('when the instruction file cannot be written, the object is removed; GET, DELETE and PUT of the name work afterwards', async () => {
    const vault = new S3ObjectStore(t.stack.serviceS3, bucket);
    const keys = new KmsKeyAdmin(t.stack.serviceKms);
    const caller = {
      arn: t.principal(KEY_USER).arn,
      guard: new AccessControl(keys).guardFor({ arn: t.principal(KEY_USER).arn }, () => undefined),
    };
    /** The vault, its instruction files refused (and, with `stuck`, its deletes too). */
    const failing = (stuck: boolean) =>
      Object.assign(Object.create(vault) as S3ObjectStore, {
        async put(key: string, body: Uint8Array, o: Parameters<S3ObjectStore['put']>[2]) {
          if (key.endsWith('.instruction'))
            throw new DomainError('DependencyFailure', 'S3 refused the write.');
          return vault.put(key, body, o);
        },
        async delete(key: string) {
          if (stuck) throw new DomainError('DependencyFailure', 'S3 refused the delete.');
          return vault.delete(key);
        },
      });
    const name = 'half/written.txt';
    const path = `/v1/objects/${encodeURIComponent(name)}`;
    const input = { keyId: 'alias/eaas-default', context: large };

    // The second write fails: the object goes too; nothing is left at the name.
    const documents = new DocumentService(keys, failing(false));
    await expect(documents.put(caller, name, Buffer.from('lost'), input)).rejects.toMatchObject({
      code: 'DependencyFailure',
    });
    expect(await stored(name)).toBe(false);
    const user = t.client(KEY_USER);
    expect((await user.rawBytes('GET', path)).status).toBe(404);
    expect((await user.raw('DELETE', path)).status).toBe(404);

    // Even when the removal fails too, what stays is never shown, and its owner writes over it.
    const stuck = new DocumentService(keys, failing(true));
    await expect(stuck.put(caller, name, Buffer.from('lost'), input)).rejects.toMatchObject({
      code: 'DependencyFailure',
    });
    expect(await stored(name)).toBe(true);
    expect((await user.rawBytes('GET', path)).status).toBe(404);
    expect((await t.client(OUTSIDER).raw('DELETE', path)).status).toBe(404);
    const again = await put(name, Buffer.from('whole'), {
      keyId: 'alias/eaas-default',
      context: JSON.stringify(large),
    });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    const got = await user.rawBytes('GET', path);
    expect(Buffer.from(got.bytes).toString()).toBe('whole');
    expect((await user.raw('DELETE', path)).status).toBe(200);
    expect(await stored(name)).toBe(false);
    expect(await stored(`${name}.instruction`)).toBe(false);
  });
});

describe("a document's media type (issue 12, finding 9)", () => {
  it('refuses a Content-Type that is not a media type, and serves documents as attachments, never sniffed', async () => {
    for (const type of ['text/html; <script>alert(1)</script>', 'text/html;', '<b>', 'text/html; a="\\"']) {
      const res = await t
        .client(KEY_USER)
        .rawBytes(
          'PUT',
          '/v1/objects/types%2Fbad.html',
          Buffer.from('<script>alert(1)</script>'),
          { keyId: 'alias/eaas-default' },
          type,
        );
      expect(res.status, type).toBe(400);
      expect(res.body, type).toMatchObject({ error: 'ValidationError' });
    }
    expect(await stored('types/bad.html')).toBe(false);

    const page = Buffer.from('<script>alert(1)</script>');
    const res = await t
      .client(KEY_USER)
      .rawBytes(
        'PUT',
        '/v1/objects/types%2Fpage.html',
        page,
        { keyId: 'alias/eaas-default' },
        'text/html; charset=utf-8',
      );
    expect(res.status).toBe(200);
    for (const method of ['GET', 'HEAD']) {
      const got = await t.client(KEY_USER).rawBytes(method, '/v1/objects/types%2Fpage.html');
      expect(got.status, method).toBe(200);
      expect(got.headers.get('content-type'), method).toBe('text/html; charset=utf-8');
      expect(got.headers.get('content-disposition'), method).toBe("attachment; filename*=UTF-8''page.html");
      expect(got.headers.get('x-content-type-options'), method).toBe('nosniff');
    }

    // A type stored before the check (straight into the vault) is not served back as it is.
    const before = await t.s3(SERVICE).send(new GetObjectCommand({ Bucket: bucket, Key: 'types/page.html' }));
    await t.s3(SERVICE).send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'types/page.html',
        Body: await before.Body?.transformToByteArray(),
        Metadata: before.Metadata,
        ContentType: 'text/html; <script>',
      }),
    );
    const old = await t.client(KEY_USER).rawBytes('GET', '/v1/objects/types%2Fpage.html');
    expect(old.status).toBe(200);
    expect(old.headers.get('content-type')).toBe('application/octet-stream');
    expect(Buffer.from(old.bytes).equals(page)).toBe(true);
  });
});
