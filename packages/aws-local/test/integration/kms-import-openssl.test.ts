import { execFileSync } from 'node:child_process';
import { constants, createCipheriv, publicEncrypt, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateKeyCommand,
  GenerateMacCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  type KMSClient,
  SignCommand,
  VerifyCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICE } from '../../src/identity.js';
import { startTestKms, type TestKms } from '../helpers/local-kms.js';

/**
 * Key material brought from OpenSSL gives the same answers in the local KMS as in OpenSSL: an RSA
 * PKCS#1 v1.5 signature (deterministic, so equal byte for byte) and an HMAC. The material is
 * wrapped as the import docs describe (RSA_AES_KEY_WRAP_SHA_256 for a private key, which does not
 * fit in one RSA-OAEP block; RSAES_OAEP_SHA_256 for HMAC key bytes):
 * https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-encrypt-key-material.html
 */

let t: TestKms;
let kms: KMSClient;
let dir: string;

beforeAll(async () => {
  t = await startTestKms();
  // The default key policy lets IAM decide: the service's role (kms:*) administers and uses.
  kms = t.client(SERVICE);
  dir = mkdtempSync(join(tmpdir(), 'eaas-import-openssl-'));
});
afterAll(async () => {
  await t.stop();
  rmSync(dir, { recursive: true, force: true });
});

const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir });

async function importInto(
  keyId: string,
  material: Buffer,
  algorithm: 'RSAES_OAEP_SHA_256' | 'RSA_AES_KEY_WRAP_SHA_256',
) {
  const params = await kms.send(
    new GetParametersForImportCommand({
      KeyId: keyId,
      WrappingAlgorithm: algorithm,
      WrappingKeySpec: 'RSA_4096',
    }),
  );
  const wrappingKey = { key: Buffer.from(params.PublicKey ?? []), format: 'der', type: 'spki' } as const;
  const oaep = (data: Buffer) =>
    publicEncrypt({ ...wrappingKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, data);
  let wrapped: Buffer;
  if (algorithm === 'RSAES_OAEP_SHA_256') {
    wrapped = oaep(material);
  } else {
    // An ephemeral AES-256 key wraps the material (AES key wrap with padding, RFC 5649); the
    // wrapping public key wraps that key; the two are concatenated.
    const aesKey = randomBytes(32);
    const cipher = createCipheriv('id-aes256-wrap-pad', aesKey, Buffer.from('A65959A6', 'hex'));
    wrapped = Buffer.concat([oaep(aesKey), cipher.update(material), cipher.final()]);
    aesKey.fill(0);
  }
  await kms.send(
    new ImportKeyMaterialCommand({
      KeyId: keyId,
      ImportToken: params.ImportToken,
      EncryptedKeyMaterial: wrapped,
      ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
    }),
  );
}

describe('material from OpenSSL, imported into the local KMS', () => {
  it('signs an RSA PKCS#1 v1.5 signature equal byte for byte to OpenSSL’s', async () => {
    openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'rsa.pem');
    openssl('pkcs8', '-topk8', '-nocrypt', '-in', 'rsa.pem', '-outform', 'DER', '-out', 'rsa.der');
    const message = Buffer.from('an invoice, signed by a key its owner brought\n');
    writeFileSync(join(dir, 'message.txt'), message);
    openssl('dgst', '-sha256', '-sign', 'rsa.pem', '-out', 'openssl.sig', 'message.txt');

    const key = await kms.send(
      new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY', Origin: 'EXTERNAL' }),
    );
    const keyId = key.KeyMetadata?.KeyId as string;
    await importInto(keyId, readFileSync(join(dir, 'rsa.der')), 'RSA_AES_KEY_WRAP_SHA_256');

    const signed = await kms.send(
      new SignCommand({
        KeyId: keyId,
        Message: message,
        MessageType: 'RAW',
        SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256',
      }),
    );
    expect(Buffer.from(signed.Signature ?? []).equals(readFileSync(join(dir, 'openssl.sig')))).toBe(true);
    const verified = await kms.send(
      new VerifyCommand({
        KeyId: keyId,
        Message: message,
        Signature: readFileSync(join(dir, 'openssl.sig')),
        SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256',
      }),
    );
    expect(verified.SignatureValid).toBe(true);
  });

  it('makes the HMAC-SHA-256 OpenSSL makes with the same key bytes', async () => {
    const hmacKey = randomBytes(32);
    const message = Buffer.from('a webhook body, authenticated\n');
    writeFileSync(join(dir, 'webhook.txt'), message);
    const expected = openssl(
      'dgst',
      '-sha256',
      '-mac',
      'HMAC',
      '-macopt',
      `hexkey:${hmacKey.toString('hex')}`,
      '-binary',
      'webhook.txt',
    );

    const key = await kms.send(
      new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC', Origin: 'EXTERNAL' }),
    );
    const keyId = key.KeyMetadata?.KeyId as string;
    await importInto(keyId, hmacKey, 'RSAES_OAEP_SHA_256');
    hmacKey.fill(0);

    const mac = await kms.send(
      new GenerateMacCommand({ KeyId: keyId, Message: message, MacAlgorithm: 'HMAC_SHA_256' }),
    );
    expect(Buffer.from(mac.Mac ?? []).equals(expected)).toBe(true);
  });
});
