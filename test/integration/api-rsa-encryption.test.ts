import { execFileSync } from 'node:child_process';
import { constants, publicEncrypt, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEY_MANAGER, KEY_USER, OUTSIDER } from '@eaas/aws-local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refusal } from '../helpers/api-refusal.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * RSA keys for ENCRYPT_DECRYPT through the crypto routes, over HTTP with the typed client against
 * the local stack (never a mocked KMS): ciphertexts made offline with the key's public key
 * (openssl pkeyutl, node:crypto) decrypt through the API; the API's own round trip; every failure
 * of a decryption is the one InvalidCiphertext; a context, an over-long plaintext or a missing
 * algorithm is a clear 4xx, told only to a caller allowed the action.
 */

let t: TestStack;
let dir: string;
const USER = `arn:aws:iam::111122223333:user/${KEY_USER}`;

beforeAll(async () => {
  t = await startTestStack({ env: { EAAS_AUTHZ_CACHE_SECONDS: '0' } });
  dir = mkdtempSync(join(tmpdir(), 'eaas-rsa-'));
});
afterAll(async () => {
  await t.stop();
  rmSync(dir, { recursive: true, force: true });
});

const newKey = async (input: Record<string, unknown>) =>
  (await t.client(KEY_MANAGER).createKey({ users: [USER], ...input })).key;

const rsaKey = (keySpec = 'RSA_2048') => newKey({ keySpec, keyUsage: 'ENCRYPT_DECRYPT' });

/** `openssl pkeyutl -encrypt` with RSA-OAEP (OAEP and MGF1 hash `md`) under a PEM public key. */
function opensslEncrypt(pem: string, plaintext: Buffer, md: 'sha256' | 'sha1'): Buffer {
  writeFileSync(join(dir, 'pub.pem'), pem);
  writeFileSync(join(dir, 'plain.bin'), plaintext);
  execFileSync(
    'openssl',
    [
      'pkeyutl',
      '-encrypt',
      '-pubin',
      '-inkey',
      join(dir, 'pub.pem'),
      '-in',
      join(dir, 'plain.bin'),
      '-out',
      join(dir, 'cipher.bin'),
      '-pkeyopt',
      'rsa_padding_mode:oaep',
      '-pkeyopt',
      `rsa_oaep_md:${md}`,
      '-pkeyopt',
      `rsa_mgf1_md:${md}`,
    ],
    { stdio: 'pipe' },
  );
  return readFileSync(join(dir, 'cipher.bin'));
}

describe('ciphertexts made with the public key, decrypted through the API', () => {
  it('openssl pkeyutl RSA-OAEP SHA-256 and SHA-1 ciphertexts decrypt with the key and algorithm', async () => {
    const key = await rsaKey();
    const api = t.client(KEY_USER);
    const { publicKeyPem, encryptionAlgorithms } = await api.publicKey(key.keyId);
    expect(encryptionAlgorithms).toEqual(['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256']);
    const secret = randomBytes(32);
    const sha256 = opensslEncrypt(publicKeyPem, secret, 'sha256');
    const out = await api.decrypt({
      ciphertext: sha256,
      keyId: key.keyId,
      encryptionAlgorithm: 'RSAES_OAEP_SHA_256',
    });
    expect(out.plaintext.equals(secret)).toBe(true);
    expect(out).toMatchObject({ keyId: key.arn, format: 'kms', encryptionAlgorithm: 'RSAES_OAEP_SHA_256' });
    const sha1 = opensslEncrypt(publicKeyPem, secret, 'sha1');
    const out1 = await api.decrypt({
      ciphertext: sha1,
      keyId: key.keyId,
      encryptionAlgorithm: 'RSAES_OAEP_SHA_1',
    });
    expect(out1.plaintext.equals(secret)).toBe(true);
    expect(out1.encryptionAlgorithm).toBe('RSAES_OAEP_SHA_1');
  });

  it('a ciphertext whose first byte is 0x02 is not taken for an Encryption SDK message', async () => {
    const key = await rsaKey();
    const api = t.client(KEY_USER);
    const { publicKeyPem } = await api.publicKey(key.keyId);
    const secret = Buffer.from('starts with 0x02');
    // RSA ciphertexts are uniform below the modulus: about one in 256 (for RSA_2048) starts 0x02.
    let ciphertext: Buffer | undefined;
    for (let i = 0; i < 4000 && !ciphertext; i++) {
      const c = publicEncrypt(
        { key: publicKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        secret,
      );
      if (c[0] === 0x02) ciphertext = c;
    }
    expect(ciphertext).toBeDefined();
    const out = await api.decrypt({
      ciphertext: ciphertext as Buffer,
      keyId: key.keyId,
      encryptionAlgorithm: 'RSAES_OAEP_SHA_256',
    });
    expect(out.plaintext.toString()).toBe('starts with 0x02');
  });

  it('encrypts through the API and decrypts it back, for each size and algorithm at its limit', async () => {
    const api = t.client(KEY_USER);
    for (const [spec, limits] of [
      ['RSA_2048', { RSAES_OAEP_SHA_1: 214, RSAES_OAEP_SHA_256: 190 }],
      ['RSA_3072', { RSAES_OAEP_SHA_1: 342, RSAES_OAEP_SHA_256: 318 }],
      ['RSA_4096', { RSAES_OAEP_SHA_1: 470, RSAES_OAEP_SHA_256: 446 }],
    ] as const) {
      const key = await rsaKey(spec);
      for (const [algorithm, max] of Object.entries(limits) as [
        'RSAES_OAEP_SHA_1' | 'RSAES_OAEP_SHA_256',
        number,
      ][]) {
        const plaintext = randomBytes(max);
        const enc = await api.encrypt({ keyId: key.keyId, plaintext, encryptionAlgorithm: algorithm });
        expect(enc).toMatchObject({ keyId: key.arn, format: 'kms', encryptionAlgorithm: algorithm });
        expect(enc.ciphertext.byteLength).toBe(Number(spec.slice(4)) / 8);
        const dec = await api.decrypt({
          ciphertext: enc.ciphertext,
          keyId: key.keyId,
          encryptionAlgorithm: algorithm,
        });
        expect(dec.plaintext.equals(plaintext)).toBe(true);
        const over = await refusal(
          api.encrypt({ keyId: key.keyId, plaintext: randomBytes(max + 1), encryptionAlgorithm: algorithm }),
        );
        expect(over).toMatchObject({ status: 413, code: 'PayloadTooLarge' });
        expect(over.message).toContain(`at most ${max} bytes`);
      }
    }
  });

  it('batches: encrypt and decrypt items name their algorithm', async () => {
    const key = await rsaKey();
    const api = t.client(KEY_USER);
    const items = await api.encryptBatch([
      { keyId: key.keyId, plaintext: 'one', encryptionAlgorithm: 'RSAES_OAEP_SHA_256' },
      { keyId: key.keyId, plaintext: 'two' },
      { keyId: 'alias/eaas-default', plaintext: 'three' },
    ]);
    expect(items[0]).toMatchObject({ format: 'kms', encryptionAlgorithm: 'RSAES_OAEP_SHA_256' });
    expect(items[1]).toMatchObject({ error: 'InvalidKeyUsage' });
    expect(items[2]).toMatchObject({ encryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
    const first = items[0] as { ciphertext: string };
    const res = await api.raw('POST', '/v1/decrypt', {
      items: [
        { ciphertext: first.ciphertext, keyId: key.keyId, encryptionAlgorithm: 'RSAES_OAEP_SHA_256' },
        { ciphertext: first.ciphertext, keyId: key.keyId, encryptionAlgorithm: 'RSAES_OAEP_SHA_1' },
      ],
    });
    expect(res.status).toBe(200);
    const answered = (res.body as { items: Record<string, string>[] }).items;
    expect(Buffer.from(answered[0]?.plaintext ?? '', 'base64').toString()).toBe('one');
    expect(answered[1]).toMatchObject({ error: 'InvalidCiphertext' });
  });
});

describe('refusals', () => {
  it('wrong algorithm, wrong key, tampered, no algorithm, a symmetric key: one InvalidCiphertext', async () => {
    const key = await rsaKey();
    const other = await rsaKey();
    const api = t.client(KEY_USER);
    const { ciphertext } = await api.encrypt({
      keyId: key.keyId,
      plaintext: 'secret',
      encryptionAlgorithm: 'RSAES_OAEP_SHA_256',
    });
    const tampered = Buffer.from(ciphertext);
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1;
    const attempts = [
      () => api.decrypt({ ciphertext, keyId: key.keyId, encryptionAlgorithm: 'RSAES_OAEP_SHA_1' }),
      () => api.decrypt({ ciphertext, keyId: other.keyId, encryptionAlgorithm: 'RSAES_OAEP_SHA_256' }),
      () =>
        api.decrypt({ ciphertext: tampered, keyId: key.keyId, encryptionAlgorithm: 'RSAES_OAEP_SHA_256' }),
      () =>
        api.decrypt({
          ciphertext: ciphertext.subarray(1),
          keyId: key.keyId,
          encryptionAlgorithm: 'RSAES_OAEP_SHA_256',
        }),
      () => api.decrypt({ ciphertext, keyId: key.keyId }),
      () => api.decrypt({ ciphertext }),
      () =>
        api.decrypt({ ciphertext, keyId: 'alias/eaas-default', encryptionAlgorithm: 'RSAES_OAEP_SHA_256' }),
    ];
    for (const attempt of attempts) {
      const r = await refusal(attempt());
      expect(r).toMatchObject({ status: 400, code: 'InvalidCiphertext' });
      expect(r.message).toBe(
        'The ciphertext could not be decrypted with the given key and encryption context.',
      );
    }
  });

  it('an encryption context with an RSA algorithm is 400, on every route', async () => {
    const key = await rsaKey();
    const api = t.client(KEY_USER);
    const context = { tenant: 'acme' };
    const enc = await refusal(
      api.encrypt({ keyId: key.keyId, plaintext: 'x', context, encryptionAlgorithm: 'RSAES_OAEP_SHA_256' }),
    );
    expect(enc).toMatchObject({ status: 400, code: 'ValidationError' });
    expect(enc.message).toContain('no encryption context');
    const dec = await refusal(
      api.decrypt({
        ciphertext: randomBytes(256),
        keyId: key.keyId,
        context,
        encryptionAlgorithm: 'RSAES_OAEP_SHA_256',
      }),
    );
    expect(dec).toMatchObject({ status: 400, code: 'ValidationError' });
    const re = await refusal(
      api.reEncrypt({
        ciphertext: randomBytes(256),
        destinationKeyId: key.keyId,
        destinationContext: context,
        destinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
      }),
    );
    expect(re).toMatchObject({ status: 400, code: 'ValidationError' });
    // Decrypting an RSA ciphertext names its key.
    const noKey = await refusal(
      api.decrypt({ ciphertext: randomBytes(256), encryptionAlgorithm: 'RSAES_OAEP_SHA_256' }),
    );
    expect(noKey).toMatchObject({ status: 400, code: 'ValidationError' });
    expect(noKey.message).toContain('keyId');
  });

  it('an RSA key without an algorithm, or an RSA algorithm with a symmetric key, is 400 InvalidKeyUsage', async () => {
    const key = await rsaKey();
    const api = t.client(KEY_USER);
    const small = await refusal(api.encrypt({ keyId: key.keyId, plaintext: 'x' }));
    expect(small).toMatchObject({ status: 400, code: 'InvalidKeyUsage' });
    expect(small.message).toContain('RSAES_OAEP_SHA_256');
    // A plaintext over 4 KiB is never put in an envelope under an RSA key.
    const large = await refusal(api.encrypt({ keyId: key.keyId, plaintext: randomBytes(5000) }));
    expect(large).toMatchObject({ status: 400, code: 'InvalidKeyUsage' });
    const symmetric = await refusal(
      api.encrypt({ keyId: 'alias/eaas-default', plaintext: 'x', encryptionAlgorithm: 'RSAES_OAEP_SHA_256' }),
    );
    expect(symmetric).toMatchObject({ status: 400, code: 'InvalidKeyUsage' });
    expect(symmetric.message).toContain('SYMMETRIC_DEFAULT');
  });
});

describe('re-encrypt', () => {
  it('moves an RSA ciphertext to a symmetric key and back to another RSA key', async () => {
    const rsa = await rsaKey();
    const rsa2 = await rsaKey('RSA_3072');
    const api = t.client(KEY_USER);
    const { publicKeyPem } = await api.publicKey(rsa.keyId);
    const secret = randomBytes(48);
    const offline = opensslEncrypt(publicKeyPem, secret, 'sha256');
    const toSymmetric = await api.reEncrypt({
      ciphertext: offline,
      sourceKeyId: rsa.keyId,
      sourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
      destinationKeyId: 'alias/eaas-default',
      destinationContext: { tenant: 'acme' },
    });
    expect(toSymmetric).toMatchObject({
      sourceKeyId: rsa.arn,
      format: 'kms',
      sourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
      destinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    });
    const opened = await api.decrypt({ ciphertext: toSymmetric.ciphertext, context: { tenant: 'acme' } });
    expect(opened.plaintext.equals(secret)).toBe(true);
    const toRsa = await api.reEncrypt({
      ciphertext: toSymmetric.ciphertext,
      context: { tenant: 'acme' },
      destinationKeyId: rsa2.keyId,
      destinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_1',
    });
    expect(toRsa).toMatchObject({
      keyId: rsa2.arn,
      sourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      destinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_1',
    });
    const back = await api.decrypt({
      ciphertext: toRsa.ciphertext,
      keyId: rsa2.keyId,
      encryptionAlgorithm: 'RSAES_OAEP_SHA_1',
    });
    expect(back.plaintext.equals(secret)).toBe(true);
  });

  it('a plaintext too long for the RSA destination: 413 to a caller who named the source, else InvalidCiphertext', async () => {
    const rsa = await rsaKey();
    const api = t.client(KEY_USER);
    const { ciphertext } = await api.encrypt({ keyId: 'alias/eaas-default', plaintext: randomBytes(300) });
    const named = await refusal(
      api.reEncrypt({
        ciphertext,
        sourceKeyId: 'alias/eaas-default',
        destinationKeyId: rsa.keyId,
        destinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
      }),
    );
    expect(named).toMatchObject({ status: 413, code: 'PayloadTooLarge' });
    const unnamed = await refusal(
      api.reEncrypt({
        ciphertext,
        destinationKeyId: rsa.keyId,
        destinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
      }),
    );
    expect(unnamed).toMatchObject({ status: 400, code: 'InvalidCiphertext' });
    const noAlgorithm = await refusal(api.reEncrypt({ ciphertext, destinationKeyId: rsa.keyId }));
    expect(noAlgorithm).toMatchObject({ status: 400, code: 'InvalidKeyUsage' });
  });
});

describe('who may learn what', () => {
  it('a caller without rights is 403 before anything about the key kind, algorithm or plaintext', async () => {
    const rsa = await rsaKey();
    const outsider = t.client(OUTSIDER);
    for (const attempt of [
      () => outsider.encrypt({ keyId: rsa.keyId, plaintext: 'x' }),
      () =>
        outsider.encrypt({
          keyId: rsa.keyId,
          plaintext: randomBytes(1000),
          encryptionAlgorithm: 'RSAES_OAEP_SHA_256',
        }),
      () =>
        outsider.encrypt({
          keyId: 'alias/eaas-default',
          plaintext: 'x',
          encryptionAlgorithm: 'RSAES_OAEP_SHA_256',
        }),
      () =>
        outsider.decrypt({
          ciphertext: randomBytes(256),
          keyId: rsa.keyId,
          encryptionAlgorithm: 'RSAES_OAEP_SHA_256',
        }),
      () =>
        outsider.reEncrypt({
          ciphertext: randomBytes(256),
          destinationKeyId: rsa.keyId,
          destinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
        }),
    ]) {
      expect(await refusal(attempt())).toMatchObject({ status: 403, code: 'AccessDenied' });
    }
  });
});
