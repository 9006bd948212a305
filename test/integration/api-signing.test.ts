import { execFileSync } from 'node:child_process';
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEY_MANAGER, KEY_USER } from '@eaas/aws-local';
import { privateKeyMaterial } from '@eaas/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refusal } from '../helpers/api-refusal.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * Signatures, MACs and keys people bring, through the API over HTTP with the typed client, against
 * the local stack (each function as its template role, so a missing IAM action fails here as on
 * AWS). Signatures are checked independently with openssl against the key from /public-key.
 */

let t: TestStack;
let dir: string;
const USER = `arn:aws:iam::111122223333:user/${KEY_USER}`;

beforeAll(async () => {
  t = await startTestStack({ env: { EAAS_AUTHZ_CACHE_SECONDS: '0' } });
  dir = mkdtempSync(join(tmpdir(), 'eaas-signing-'));
});
afterAll(async () => {
  await t.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** `openssl dgst -verify` of a signature of `message` with a PEM public key; true when it verifies. */
function opensslVerifies(
  pem: string,
  message: Buffer,
  signature: Uint8Array,
  options: string[] = [],
): boolean {
  writeFileSync(join(dir, 'pub.pem'), pem);
  writeFileSync(join(dir, 'msg'), message);
  writeFileSync(join(dir, 'sig'), signature);
  try {
    execFileSync(
      'openssl',
      [
        'dgst',
        '-sha256',
        '-verify',
        join(dir, 'pub.pem'),
        ...options,
        '-signature',
        join(dir, 'sig'),
        join(dir, 'msg'),
      ],
      {
        stdio: 'pipe',
      },
    );
    return true;
  } catch {
    return false;
  }
}

const newKey = async (input: Record<string, unknown>) =>
  (await t.client(KEY_MANAGER).createKey({ users: [USER], ...input })).key;

describe('creating keys of every kind', () => {
  it('describes a key of each kind with its spec, usage, origin and algorithms', async () => {
    const signing = await newKey({ keySpec: 'ECC_NIST_P256' });
    expect(signing).toMatchObject({
      keySpec: 'ECC_NIST_P256',
      keyUsage: 'SIGN_VERIFY',
      origin: 'AWS_KMS',
      state: 'Enabled',
    });
    expect(signing.signingAlgorithms).toEqual(['ECDSA_SHA_256']);
    const hmac = await newKey({ keySpec: 'HMAC_384' });
    expect(hmac).toMatchObject({ keyUsage: 'GENERATE_VERIFY_MAC', macAlgorithms: ['HMAC_SHA_384'] });
    const external = await newKey({ origin: 'EXTERNAL' });
    expect(external).toMatchObject({ origin: 'EXTERNAL', state: 'PendingImport' });
    const described = await t.client(KEY_USER).raw('GET', `/v1/keys/${signing.keyId}`);
    expect(described.body).toMatchObject({ key: { keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' } });
  });

  it('refuses combinations KMS does not make with a stable 400', async () => {
    const manager = t.client(KEY_MANAGER);
    for (const body of [
      { keySpec: 'RSA_2048' },
      { keySpec: 'ECC_NIST_P256', keyUsage: 'ENCRYPT_DECRYPT' },
      { keySpec: 'HMAC_256', keyUsage: 'SIGN_VERIFY' },
      { keySpec: 'ECC_NIST_P384', rotation: { enabled: true } },
      { origin: 'EXTERNAL', rotation: { enabled: true } },
    ]) {
      const res = await manager.raw('POST', '/v1/keys', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body).toMatchObject({ error: 'InvalidKeyConfiguration' });
    }
    const res = await manager.raw('POST', '/v1/keys', { keySpec: 'SM2' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'ValidationError' });
  });
});

describe('signatures', () => {
  it('ECDSA P-256: signed by the API, verified by openssl with the key from /public-key, and by the API', async () => {
    const key = await newKey({ keySpec: 'ECC_NIST_P256' });
    const api = t.client(KEY_USER);
    const message = Buffer.from('release 1.2.3');
    const signed = await api.sign({ keyId: key.keyId, message });
    expect(signed).toMatchObject({ algorithm: 'ECDSA_SHA_256', messageType: 'RAW' });
    const pub = await api.publicKey(key.keyId);
    expect(pub).toMatchObject({
      keySpec: 'ECC_NIST_P256',
      keyUsage: 'SIGN_VERIFY',
      signingAlgorithms: ['ECDSA_SHA_256'],
    });
    expect(opensslVerifies(pub.publicKeyPem, message, signed.signature)).toBe(true);
    expect(await api.verify({ keyId: key.keyId, message, signature: signed.signature })).toMatchObject({
      valid: true,
    });
    // An invalid signature is an answer, not an error; a garbled one too.
    expect(
      (
        await api.verify({
          keyId: key.keyId,
          message: Buffer.from('release 1.2.4'),
          signature: signed.signature,
        })
      ).valid,
    ).toBe(false);
    expect((await api.verify({ keyId: key.keyId, message, signature: randomBytes(70) })).valid).toBe(false);
  });

  it('a message over 4 KiB is signed as the digest the service computes, and verifies against the whole message', async () => {
    const key = await newKey({ keySpec: 'ECC_NIST_P256' });
    const api = t.client(KEY_USER);
    const message = randomBytes(100_000);
    const signed = await api.sign({ keyId: key.keyId, message });
    expect(signed.messageType).toBe('DIGEST');
    const { publicKeyPem } = await api.publicKey(key.keyId);
    expect(opensslVerifies(publicKeyPem, message, signed.signature)).toBe(true);
    expect(await api.verify({ keyId: key.keyId, message, signature: signed.signature })).toMatchObject({
      valid: true,
      messageType: 'DIGEST',
    });
  });

  it('RSA-PSS and PKCS #1 v1.5 signatures verify with openssl', async () => {
    const key = await newKey({ keySpec: 'RSA_2048', keyUsage: 'SIGN_VERIFY' });
    const api = t.client(KEY_USER);
    const message = Buffer.from('contract v7');
    const { publicKeyPem } = await api.publicKey(key.keyId);
    const pss = await api.sign({ keyId: key.keyId, message });
    expect(pss.algorithm).toBe('RSASSA_PSS_SHA_256');
    expect(
      opensslVerifies(publicKeyPem, message, pss.signature, [
        '-sigopt',
        'rsa_padding_mode:pss',
        '-sigopt',
        'rsa_pss_saltlen:32',
      ]),
    ).toBe(true);
    const pkcs1 = await api.sign({ keyId: key.keyId, message, algorithm: 'RSASSA_PKCS1_V1_5_SHA_256' });
    expect(opensslVerifies(publicKeyPem, message, pkcs1.signature)).toBe(true);
  });

  it('batches sign item by item; a key of the wrong kind is a stable 400 to a caller allowed the action', async () => {
    const key = await newKey({ keySpec: 'ECC_NIST_P256' });
    const api = t.client(KEY_USER);
    const m = Buffer.from('one').toString('base64');
    // A symmetric key whose raw policy lets its user ask for signatures, MACs and a public key.
    const symmetric = await newKey({});
    const manager = t.client(KEY_MANAGER);
    const { policy } = (await manager.raw('GET', `/v1/keys/${symmetric.keyId}/policy`)).body as {
      policy: { Statement: { Sid?: string; Action: string[] }[] };
    };
    const use = policy.Statement.find((s) => s.Sid === 'Allow use of the key');
    use?.Action.push('kms:Sign', 'kms:GenerateMac', 'kms:GetPublicKey');
    expect((await manager.raw('PUT', `/v1/keys/${symmetric.keyId}/policy`, { policy })).status).toBe(200);
    const res = await api.raw('POST', '/v1/sign', {
      items: [
        { keyId: key.keyId, message: m },
        { keyId: symmetric.keyId, message: m },
        { keyId: 'alias/eaas-default', message: m },
      ],
    });
    expect(res.status).toBe(200);
    const items = (res.body as { items: Record<string, unknown>[] }).items;
    expect(items[0]).toMatchObject({ algorithm: 'ECDSA_SHA_256', messageType: 'RAW' });
    expect(items[1]).toMatchObject({ error: 'InvalidKeyUsage', index: 1 });
    // Without the right, nothing of the key is told, not even its kind.
    expect(items[2]).toMatchObject({ error: 'AccessDenied', index: 2 });
    expect(await refusal(api.generateMac({ keyId: symmetric.keyId, message: 'x' }))).toMatchObject({
      status: 400,
      code: 'InvalidKeyUsage',
    });
    expect(await refusal(api.publicKey(symmetric.keyId))).toMatchObject({
      status: 400,
      code: 'UnsupportedOperation',
    });
    expect(
      await refusal(api.sign({ keyId: key.keyId, message: randomBytes(20), messageType: 'DIGEST' })),
    ).toMatchObject({
      status: 400,
      code: 'ValidationError',
    });
    expect(await refusal(manager.sign({ keyId: key.keyId, message: 'x' }))).toMatchObject({
      status: 403,
      code: 'AccessDenied',
    });
  });
});

describe('keys people bring', () => {
  it('HMAC: imported material gives the MAC openssl and node:crypto give; a wrong MAC is valid: false', async () => {
    const key = await newKey({ keySpec: 'HMAC_256', origin: 'EXTERNAL' });
    const material = randomBytes(32);
    const manager = t.client(KEY_MANAGER);
    const imported = await manager.importKey(key.keyId, material);
    expect(imported.key).toMatchObject({ state: 'Enabled', expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' });
    const api = t.client(KEY_USER);
    const message = Buffer.from('amount=42&to=acme');
    const out = await api.generateMac({ keyId: key.keyId, message });
    expect(Buffer.from(out.mac)).toEqual(createHmac('sha256', material).update(message).digest());
    writeFileSync(join(dir, 'msg'), message);
    const openssl = execFileSync('openssl', [
      'dgst',
      '-sha256',
      '-mac',
      'HMAC',
      '-macopt',
      `hexkey:${material.toString('hex')}`,
      '-binary',
      join(dir, 'msg'),
    ]);
    expect(Buffer.from(out.mac)).toEqual(openssl);
    expect((await api.verifyMac({ keyId: key.keyId, message, mac: out.mac })).valid).toBe(true);
    expect(
      (await api.verifyMac({ keyId: key.keyId, message: Buffer.from('amount=43&to=acme'), mac: out.mac }))
        .valid,
    ).toBe(false);
    expect(await refusal(api.generateMac({ keyId: key.keyId, message: randomBytes(4097) }))).toMatchObject({
      status: 413,
      code: 'PayloadTooLarge',
    });
  });

  it('symmetric: encrypt, delete the material (409 KeyPendingImport), reimport the same, the old ciphertext opens', async () => {
    const key = await newKey({ origin: 'EXTERNAL' });
    const manager = t.client(KEY_MANAGER);
    const api = t.client(KEY_USER);
    expect(await refusal(api.encrypt({ keyId: key.keyId, plaintext: 'x' }))).toMatchObject({
      status: 409,
      code: 'KeyPendingImport',
    });
    const material = randomBytes(32);
    await manager.importKey(key.keyId, material, { wrappingKeySpec: 'RSA_2048' });
    const sealed = await api.encrypt({ keyId: key.keyId, plaintext: 'bring your own key' });
    const deleted = await manager.deleteKeyMaterial(key.keyId);
    expect(deleted.key.state).toBe('PendingImport');
    expect(await refusal(api.encrypt({ keyId: key.keyId, plaintext: 'x' }))).toMatchObject({
      status: 409,
      code: 'KeyPendingImport',
    });
    // Other material is refused; the same material brings the key back.
    expect(await refusal(manager.importKey(key.keyId, randomBytes(32)))).toMatchObject({
      status: 400,
      code: 'IncorrectKeyMaterial',
    });
    const validTo = new Date(Date.now() + 30 * 86_400_000);
    const back = await manager.importKey(key.keyId, material, { validTo });
    expect(back.key).toMatchObject({ state: 'Enabled', expirationModel: 'KEY_MATERIAL_EXPIRES' });
    const opened = await api.decrypt({ ciphertext: sealed.ciphertext, keyId: key.keyId });
    expect(opened.plaintext.toString()).toBe('bring your own key');
    // Users may not touch the material; a token of other parameters is a stable 400.
    expect(await refusal(api.deleteKeyMaterial(key.keyId))).toMatchObject({
      status: 403,
      code: 'AccessDenied',
    });
    const params = await manager.importParameters(key.keyId);
    const res = await manager.raw('PUT', `/v1/keys/${key.keyId}/material`, {
      importToken: params.importToken,
      encryptedKeyMaterial: randomBytes(512).toString('base64'),
    });
    expect(res.status).toBe(400);
    expect(['InvalidKeyMaterial', 'InvalidImportToken']).toContain((res.body as { error: string }).error);
  });

  it('RSA: an imported private key (RSA_AES_KEY_WRAP_SHA_256) signs PKCS #1 v1.5 byte for byte as openssl does', async () => {
    const key = await newKey({ keySpec: 'RSA_2048', keyUsage: 'SIGN_VERIFY', origin: 'EXTERNAL' });
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await t.client(KEY_MANAGER).importKey(key.keyId, privateKeyMaterial(privateKey));
    const message = Buffer.from('deterministic');
    const kms = await t
      .client(KEY_USER)
      .sign({ keyId: key.keyId, message, algorithm: 'RSASSA_PKCS1_V1_5_SHA_256' });
    writeFileSync(join(dir, 'key.pem'), privateKey.export({ format: 'pem', type: 'pkcs8' }));
    writeFileSync(join(dir, 'msg'), message);
    const openssl = execFileSync('openssl', [
      'dgst',
      '-sha256',
      '-sign',
      join(dir, 'key.pem'),
      join(dir, 'msg'),
    ]);
    expect(Buffer.from(kms.signature)).toEqual(openssl);
  });
});
