import { execFileSync } from 'node:child_process';
import {
  constants,
  createHash,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  publicEncrypt,
  randomBytes,
  verify,
} from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateGrantCommand,
  CreateKeyCommand,
  type CreateKeyCommandInput,
  DecryptCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EncryptCommand,
  GenerateDataKeyPairCommand,
  GenerateDataKeyPairWithoutPlaintextCommand,
  GenerateMacCommand,
  GetPublicKeyCommand,
  type KMSClient,
  type MacAlgorithmSpec,
  ReEncryptCommand,
  SignCommand,
  type SigningAlgorithmSpec,
  VerifyCommand,
  VerifyMacCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRANTEE, SERVICE } from '../../src/identity.js';
import { errorOf } from '../helpers/errors.js';
import { startTestKms, type TestKms } from '../helpers/local-kms.js';

/**
 * Asymmetric and HMAC keys of the local KMS through @aws-sdk/client-kms: every signing algorithm
 * of every signing spec (RAW and DIGEST), RSA encryption, data key pairs, MACs, and independent
 * checks with OpenSSL (signatures verify with `openssl dgst`, OpenSSL's RSA-OAEP ciphertexts
 * decrypt through KMS). The keys are the service role's (IAM kms:*, the default key policy).
 */

let t: TestKms;
let kms: KMSClient;
let dir: string;
const keys: Record<string, string> = {};

const SIGNING_SPECS: Record<string, readonly SigningAlgorithmSpec[]> = {
  RSA_2048: [
    'RSASSA_PSS_SHA_256',
    'RSASSA_PSS_SHA_384',
    'RSASSA_PSS_SHA_512',
    'RSASSA_PKCS1_V1_5_SHA_256',
    'RSASSA_PKCS1_V1_5_SHA_384',
    'RSASSA_PKCS1_V1_5_SHA_512',
  ],
  ECC_NIST_P256: ['ECDSA_SHA_256'],
  ECC_NIST_P384: ['ECDSA_SHA_384'],
  ECC_NIST_P521: ['ECDSA_SHA_512'],
  ECC_SECG_P256K1: ['ECDSA_SHA_256'],
};
// The larger RSA sizes sign with a sample of the algorithms: key generation is what costs.
const LARGE_RSA: Record<string, readonly SigningAlgorithmSpec[]> = {
  RSA_3072: ['RSASSA_PSS_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_256'],
  RSA_4096: ['RSASSA_PSS_SHA_512', 'RSASSA_PKCS1_V1_5_SHA_512'],
};

const hashOf = (alg: string) => (alg.endsWith('384') ? 'sha384' : alg.endsWith('512') ? 'sha512' : 'sha256');

async function createKey(input: CreateKeyCommandInput): Promise<string> {
  const out = await kms.send(new CreateKeyCommand(input));
  const id = out.KeyMetadata?.KeyId;
  if (!id) throw new Error('no key id');
  return id;
}

async function publicKeyOf(keyId: string): Promise<KeyObject> {
  const out = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
  return createPublicKey({ key: Buffer.from(out.PublicKey ?? []), format: 'der', type: 'spki' });
}

function openssl(...args: string[]): string {
  return execFileSync('openssl', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

beforeAll(async () => {
  t = await startTestKms();
  kms = t.client(SERVICE);
  dir = mkdtempSync(join(tmpdir(), 'eaas-asym-'));
  const specs = [...Object.keys(SIGNING_SPECS), ...Object.keys(LARGE_RSA)];
  const made = await Promise.all(
    specs.map((KeySpec) =>
      createKey({ KeySpec: KeySpec as CreateKeyCommandInput['KeySpec'], KeyUsage: 'SIGN_VERIFY' }),
    ),
  );
  specs.forEach((spec, i) => {
    keys[spec] = made[i] as string;
  });
  keys.RSA_ENCRYPT = await createKey({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' });
  keys.SYMMETRIC = await createKey({});
  for (const bits of [224, 256, 384, 512]) {
    keys[`HMAC_${bits}`] = await createKey({
      KeySpec: `HMAC_${bits}` as CreateKeyCommandInput['KeySpec'],
      KeyUsage: 'GENERATE_VERIFY_MAC',
    });
  }
});
afterAll(async () => {
  await t.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('Sign and Verify', () => {
  const cases = Object.entries({ ...SIGNING_SPECS, ...LARGE_RSA }).flatMap(([spec, algs]) =>
    algs.map((alg) => [spec, alg] as const),
  );

  it.each(cases)('%s with %s: RAW and DIGEST signatures verify here and with node', async (spec, alg) => {
    const KeyId = keys[spec];
    const message = randomBytes(300);
    const digest = createHash(hashOf(alg)).update(message).digest();
    const publicKey = await publicKeyOf(KeyId as string);
    const raw = await kms.send(new SignCommand({ KeyId, Message: message, SigningAlgorithm: alg }));
    const fromDigest = await kms.send(
      new SignCommand({ KeyId, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: alg }),
    );
    expect(raw).toMatchObject({ KeyId: expect.stringContaining(KeyId as string), SigningAlgorithm: alg });
    for (const signature of [raw.Signature, fromDigest.Signature]) {
      // A message and its digest are the same message (API_Verify).
      for (const [Message, MessageType] of [
        [message, 'RAW'],
        [digest, 'DIGEST'],
      ] as const) {
        const ok = await kms.send(
          new VerifyCommand({ KeyId, Message, MessageType, Signature: signature, SigningAlgorithm: alg }),
        );
        expect(ok).toMatchObject({ SignatureValid: true, SigningAlgorithm: alg });
      }
      const pss = alg.startsWith('RSASSA_PSS');
      const key = pss
        ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: digest.length }
        : publicKey;
      expect(verify(hashOf(alg), message, key, Buffer.from(signature ?? []))).toBe(true);
    }
    // PKCS #1 v1.5 is deterministic: DIGEST gives RAW's signature, byte for byte.
    if (alg.startsWith('RSASSA_PKCS1')) {
      expect(Buffer.from(fromDigest.Signature ?? []).equals(Buffer.from(raw.Signature ?? []))).toBe(true);
    }
    const tampered = Buffer.from(raw.Signature ?? []);
    tampered[tampered.length - 3] = (tampered[tampered.length - 3] ?? 0) ^ 0x40;
    const bad = await errorOf(
      kms.send(new VerifyCommand({ KeyId, Message: message, Signature: tampered, SigningAlgorithm: alg })),
    );
    expect(bad).toMatchObject({ name: 'KMSInvalidSignatureException', status: 400 });
  });

  it('malformed signatures, wrong algorithms and wrong digest lengths are the errors KMS answers, never a 500', async () => {
    const KeyId = keys.ECC_NIST_P256;
    const Message = Buffer.from('m');
    for (const Signature of [Buffer.from([0x30]), Buffer.alloc(6144, 0xff), Buffer.from('not a signature')]) {
      for (const id of [KeyId, keys.RSA_2048]) {
        const alg = id === KeyId ? 'ECDSA_SHA_256' : 'RSASSA_PSS_SHA_256';
        for (const MessageType of ['RAW', 'DIGEST'] as const) {
          const msg = MessageType === 'DIGEST' ? Buffer.alloc(32, 1) : Message;
          const err = await errorOf(
            kms.send(
              new VerifyCommand({ KeyId: id, Message: msg, MessageType, Signature, SigningAlgorithm: alg }),
            ),
          );
          expect(err).toMatchObject({ name: 'KMSInvalidSignatureException', status: 400 });
        }
      }
    }
    // ECDSA_SHA_384 is not an algorithm of ECC_NIST_P256; PSS is not one of an ECC key.
    for (const SigningAlgorithm of ['ECDSA_SHA_384', 'RSASSA_PSS_SHA_256'] as const) {
      expect(await errorOf(kms.send(new SignCommand({ KeyId, Message, SigningAlgorithm })))).toMatchObject({
        name: 'InvalidKeyUsageException',
        status: 400,
      });
    }
    const shortDigest = await errorOf(
      kms.send(
        new SignCommand({
          KeyId,
          Message: Buffer.alloc(31),
          MessageType: 'DIGEST',
          SigningAlgorithm: 'ECDSA_SHA_256',
        }),
      ),
    );
    expect(shortDigest).toMatchObject({ name: 'ValidationException', status: 400 });
    expect(shortDigest.message).toContain('Digest is invalid length for algorithm ECDSA_SHA_256');
    const long = await errorOf(
      kms.send(new SignCommand({ KeyId, Message: Buffer.alloc(4097), SigningAlgorithm: 'ECDSA_SHA_256' })),
    );
    expect(long.name).toBe('ValidationException');
    await kms.send(
      new SignCommand({ KeyId, Message: Buffer.alloc(4096), SigningAlgorithm: 'ECDSA_SHA_256' }),
    );
    // Keys that do not sign.
    for (const id of [keys.RSA_ENCRYPT, keys.SYMMETRIC, keys.HMAC_256]) {
      expect(
        (
          await errorOf(
            kms.send(new SignCommand({ KeyId: id, Message, SigningAlgorithm: 'RSASSA_PSS_SHA_256' })),
          )
        ).name,
      ).toBe('InvalidKeyUsageException');
    }
    const dry = await errorOf(
      kms.send(new SignCommand({ KeyId, Message, SigningAlgorithm: 'ECDSA_SHA_256', DryRun: true })),
    );
    expect(dry).toMatchObject({ name: 'DryRunOperationException', status: 412 });
  });

  it('a disabled key does not sign', async () => {
    const admin = kms;
    const KeyId = keys.ECC_SECG_P256K1;
    await admin.send(new DisableKeyCommand({ KeyId }));
    try {
      expect(
        (
          await errorOf(
            kms.send(
              new SignCommand({ KeyId, Message: Buffer.from('x'), SigningAlgorithm: 'ECDSA_SHA_256' }),
            ),
          )
        ).name,
      ).toBe('DisabledException');
    } finally {
      await admin.send(new EnableKeyCommand({ KeyId }));
    }
  });
});

describe('OpenSSL', () => {
  it('verifies ECDSA P-256, RSA-PSS and RSA PKCS#1 v1.5 signatures against the key from GetPublicKey', async () => {
    const message = Buffer.from('signed by the local KMS, verified by OpenSSL\n');
    writeFileSync(join(dir, 'msg.bin'), message);
    const cases = [
      { spec: 'ECC_NIST_P256', alg: 'ECDSA_SHA_256', opts: [] as string[] },
      {
        spec: 'RSA_2048',
        alg: 'RSASSA_PSS_SHA_256',
        opts: ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:-1'],
      },
      { spec: 'RSA_2048', alg: 'RSASSA_PKCS1_V1_5_SHA_256', opts: [] as string[] },
    ] as const;
    for (const { spec, alg, opts } of cases) {
      const KeyId = keys[spec];
      const pub = await kms.send(new GetPublicKeyCommand({ KeyId }));
      writeFileSync(join(dir, 'pub.der'), Buffer.from(pub.PublicKey ?? []));
      openssl('pkey', '-pubin', '-inform', 'DER', '-in', 'pub.der', '-out', 'pub.pem');
      for (const MessageType of ['RAW', 'DIGEST'] as const) {
        const Message = MessageType === 'RAW' ? message : createHash('sha256').update(message).digest();
        const signed = await kms.send(
          new SignCommand({ KeyId, Message, MessageType, SigningAlgorithm: alg }),
        );
        writeFileSync(join(dir, 'sig.bin'), Buffer.from(signed.Signature ?? []));
        const out = openssl(
          'dgst',
          '-sha256',
          '-verify',
          'pub.pem',
          ...opts,
          '-signature',
          'sig.bin',
          'msg.bin',
        );
        expect(out.trim(), `${alg} ${MessageType}`).toBe('Verified OK');
      }
    }
  });

  it('RSA-OAEP ciphertexts made by OpenSSL with the public key decrypt through KMS', async () => {
    const KeyId = keys.RSA_ENCRYPT;
    const pub = await kms.send(new GetPublicKeyCommand({ KeyId }));
    expect(pub).toMatchObject({
      KeyUsage: 'ENCRYPT_DECRYPT',
      EncryptionAlgorithms: ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'],
    });
    writeFileSync(join(dir, 'enc.der'), Buffer.from(pub.PublicKey ?? []));
    const plaintext = randomBytes(32);
    writeFileSync(join(dir, 'plain.bin'), plaintext);
    for (const [md, EncryptionAlgorithm] of [
      ['sha256', 'RSAES_OAEP_SHA_256'],
      ['sha1', 'RSAES_OAEP_SHA_1'],
    ] as const) {
      openssl(
        'pkeyutl',
        '-encrypt',
        '-pubin',
        '-keyform',
        'DER',
        '-inkey',
        'enc.der',
        '-pkeyopt',
        'rsa_padding_mode:oaep',
        '-pkeyopt',
        `rsa_oaep_md:${md}`,
        '-pkeyopt',
        `rsa_mgf1_md:${md}`,
        '-in',
        'plain.bin',
        '-out',
        'ct.bin',
      );
      const CiphertextBlob = readFileSync(join(dir, 'ct.bin'));
      const out = await kms.send(new DecryptCommand({ KeyId, CiphertextBlob, EncryptionAlgorithm }));
      expect(Buffer.from(out.Plaintext ?? []).equals(plaintext)).toBe(true);
      expect(out.EncryptionAlgorithm).toBe(EncryptionAlgorithm);
    }
  });
});

describe('GetPublicKey', () => {
  it('answers DER SubjectPublicKeyInfo with the key spec, usage and algorithms', async () => {
    const out = await kms.send(new GetPublicKeyCommand({ KeyId: keys.ECC_NIST_P384 }));
    expect(out).toMatchObject({
      KeySpec: 'ECC_NIST_P384',
      CustomerMasterKeySpec: 'ECC_NIST_P384',
      KeyUsage: 'SIGN_VERIFY',
      SigningAlgorithms: ['ECDSA_SHA_384'],
    });
    expect(out.EncryptionAlgorithms).toBeUndefined();
    const key = createPublicKey({ key: Buffer.from(out.PublicKey ?? []), format: 'der', type: 'spki' });
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
  });

  it('symmetric and HMAC keys have no public key: UnsupportedOperationException', async () => {
    for (const KeyId of [keys.SYMMETRIC, keys.HMAC_256]) {
      expect(await errorOf(kms.send(new GetPublicKeyCommand({ KeyId })))).toMatchObject({
        name: 'UnsupportedOperationException',
        status: 400,
      });
    }
  });
});

describe('RSA encryption', () => {
  it('Encrypt and Decrypt with RSAES_OAEP_SHA_1 and _SHA_256, up to the documented plaintext sizes', async () => {
    const KeyId = keys.RSA_ENCRYPT;
    for (const [EncryptionAlgorithm, max] of [
      ['RSAES_OAEP_SHA_1', 214],
      ['RSAES_OAEP_SHA_256', 190],
    ] as const) {
      const plaintext = randomBytes(max);
      const enc = await kms.send(new EncryptCommand({ KeyId, Plaintext: plaintext, EncryptionAlgorithm }));
      expect(enc).toMatchObject({ EncryptionAlgorithm });
      expect(enc.CiphertextBlob?.length).toBe(256);
      const dec = await kms.send(
        new DecryptCommand({ KeyId, CiphertextBlob: enc.CiphertextBlob, EncryptionAlgorithm }),
      );
      expect(Buffer.from(dec.Plaintext ?? []).equals(plaintext)).toBe(true);
      const tooLong = await errorOf(
        kms.send(new EncryptCommand({ KeyId, Plaintext: randomBytes(max + 1), EncryptionAlgorithm })),
      );
      expect(tooLong.name).toBe('ValidationException');
      // Without the KeyId there is nothing to say which key made it; with the other algorithm, or
      // tampered, it is not a ciphertext of this key: one InvalidCiphertextException.
      const tampered = Buffer.from(enc.CiphertextBlob ?? []);
      tampered[5] = (tampered[5] ?? 0) ^ 1;
      const other = EncryptionAlgorithm === 'RSAES_OAEP_SHA_1' ? 'RSAES_OAEP_SHA_256' : 'RSAES_OAEP_SHA_1';
      for (const cmd of [
        new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionAlgorithm }),
        new DecryptCommand({ KeyId, CiphertextBlob: enc.CiphertextBlob, EncryptionAlgorithm: other }),
        new DecryptCommand({ KeyId, CiphertextBlob: tampered, EncryptionAlgorithm }),
      ]) {
        expect((await errorOf(kms.send(cmd))).name).toBe('InvalidCiphertextException');
      }
    }
    // The algorithm is required for an asymmetric key (SYMMETRIC_DEFAULT is incompatible), and an
    // encryption context is for symmetric keys only.
    const noAlgorithm = await errorOf(kms.send(new EncryptCommand({ KeyId, Plaintext: Buffer.from('x') })));
    expect(noAlgorithm).toMatchObject({ name: 'InvalidKeyUsageException' });
    expect(noAlgorithm.message).toContain(
      'Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048',
    );
    const withContext = await errorOf(
      kms.send(
        new EncryptCommand({
          KeyId,
          Plaintext: Buffer.from('x'),
          EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
          EncryptionContext: { a: 'b' },
        }),
      ),
    );
    expect(withContext.name).toBe('ValidationException');
    // A symmetric key takes no RSA algorithm; a signing RSA key does not encrypt.
    for (const id of [keys.SYMMETRIC, keys.RSA_2048]) {
      const err = await errorOf(
        kms.send(
          new EncryptCommand({
            KeyId: id,
            Plaintext: Buffer.from('x'),
            EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
          }),
        ),
      );
      expect(err.name).toBe('InvalidKeyUsageException');
    }
  });

  it('a ciphertext made with node from the public key decrypts', async () => {
    const KeyId = keys.RSA_ENCRYPT;
    const publicKey = await publicKeyOf(KeyId as string);
    const plaintext = Buffer.from('made outside KMS');
    const CiphertextBlob = publicEncrypt(
      { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      plaintext,
    );
    const out = await kms.send(
      new DecryptCommand({ KeyId, CiphertextBlob, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }),
    );
    expect(Buffer.from(out.Plaintext ?? []).toString()).toBe('made outside KMS');
  });

  it('ReEncrypt moves a ciphertext between a symmetric key and an RSA key, both ways', async () => {
    const plaintext = Buffer.from('moved between keys');
    const sym = await kms.send(
      new EncryptCommand({ KeyId: keys.SYMMETRIC, Plaintext: plaintext, EncryptionContext: { a: 'b' } }),
    );
    const toRsa = await kms.send(
      new ReEncryptCommand({
        CiphertextBlob: sym.CiphertextBlob,
        SourceEncryptionContext: { a: 'b' },
        DestinationKeyId: keys.RSA_ENCRYPT,
        DestinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_1',
      }),
    );
    expect(toRsa).toMatchObject({
      SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      DestinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_1',
    });
    const back = await kms.send(
      new ReEncryptCommand({
        CiphertextBlob: toRsa.CiphertextBlob,
        SourceKeyId: keys.RSA_ENCRYPT,
        SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_1',
        DestinationKeyId: keys.SYMMETRIC,
        DestinationEncryptionContext: { c: 'd' },
      }),
    );
    expect(back).toMatchObject({
      SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_1',
      DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    });
    const dec = await kms.send(
      new DecryptCommand({ CiphertextBlob: back.CiphertextBlob, EncryptionContext: { c: 'd' } }),
    );
    expect(Buffer.from(dec.Plaintext ?? []).equals(plaintext)).toBe(true);
    // Without the algorithm for the RSA destination: SYMMETRIC_DEFAULT is incompatible.
    const err = await errorOf(
      kms.send(
        new ReEncryptCommand({
          CiphertextBlob: sym.CiphertextBlob,
          SourceEncryptionContext: { a: 'b' },
          DestinationKeyId: keys.RSA_ENCRYPT,
        }),
      ),
    );
    expect(err.name).toBe('InvalidKeyUsageException');
  });
});

describe('GenerateDataKeyPair', () => {
  it.each(['ECC_NIST_P256', 'ECC_NIST_P521', 'ECC_SECG_P256K1', 'RSA_2048'] as const)(
    '%s: the private key is PKCS#8 DER of the public key, and Decrypt opens its ciphertext',
    async (KeyPairSpec) => {
      const EncryptionContext = { purpose: 'pair' };
      const out = await kms.send(
        new GenerateDataKeyPairCommand({ KeyId: keys.SYMMETRIC, KeyPairSpec, EncryptionContext }),
      );
      expect(out).toMatchObject({ KeyPairSpec, KeyId: expect.stringContaining(keys.SYMMETRIC as string) });
      const privateKey = createPrivateKey({
        key: Buffer.from(out.PrivateKeyPlaintext ?? []),
        format: 'der',
        type: 'pkcs8',
      });
      const derived = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
      expect(derived.equals(Buffer.from(out.PublicKey ?? []))).toBe(true);
      const dec = await kms.send(
        new DecryptCommand({ CiphertextBlob: out.PrivateKeyCiphertextBlob, EncryptionContext }),
      );
      expect(Buffer.from(dec.Plaintext ?? []).equals(Buffer.from(out.PrivateKeyPlaintext ?? []))).toBe(true);
    },
  );

  it('WithoutPlaintext answers no private key; an asymmetric KMS key is refused', async () => {
    const out = await kms.send(
      new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: keys.SYMMETRIC, KeyPairSpec: 'ECC_NIST_P384' }),
    );
    expect(out).not.toHaveProperty('PrivateKeyPlaintext');
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: out.PrivateKeyCiphertextBlob }));
    expect(
      createPrivateKey({ key: Buffer.from(dec.Plaintext ?? []), format: 'der', type: 'pkcs8' })
        .asymmetricKeyType,
    ).toBe('ec');
    for (const KeyId of [keys.RSA_ENCRYPT, keys.HMAC_256]) {
      expect(
        (await errorOf(kms.send(new GenerateDataKeyPairCommand({ KeyId, KeyPairSpec: 'ECC_NIST_P256' }))))
          .name,
      ).toBe('InvalidKeyUsageException');
    }
  });
});

describe('GenerateMac and VerifyMac', () => {
  it.each([224, 256, 384, 512])('HMAC_%i: the MAC verifies, and not for another message', async (bits) => {
    const KeyId = keys[`HMAC_${bits}`];
    const MacAlgorithm = `HMAC_SHA_${bits}` as MacAlgorithmSpec;
    const Message = randomBytes(100);
    const out = await kms.send(new GenerateMacCommand({ KeyId, Message, MacAlgorithm }));
    expect(out).toMatchObject({ MacAlgorithm, KeyId: expect.stringContaining(KeyId as string) });
    expect(out.Mac?.length).toBe(bits / 8);
    const again = await kms.send(new GenerateMacCommand({ KeyId, Message, MacAlgorithm }));
    expect(Buffer.from(again.Mac ?? []).equals(Buffer.from(out.Mac ?? []))).toBe(true);
    expect(
      await kms.send(new VerifyMacCommand({ KeyId, Message, MacAlgorithm, Mac: out.Mac })),
    ).toMatchObject({
      MacValid: true,
      MacAlgorithm,
    });
    for (const [msg, mac] of [
      [Buffer.from('another message'), out.Mac],
      [Message, Buffer.from(out.Mac ?? []).subarray(1)],
    ] as const) {
      const err = await errorOf(
        kms.send(new VerifyMacCommand({ KeyId, Message: msg, MacAlgorithm, Mac: mac })),
      );
      expect(err).toMatchObject({ name: 'KMSInvalidMacException', status: 400 });
    }
  });

  it("the algorithm must be the spec's, the key an HMAC key, the message 1 to 4096 bytes", async () => {
    const KeyId = keys.HMAC_256;
    expect(
      (
        await errorOf(
          kms.send(
            new GenerateMacCommand({ KeyId, Message: Buffer.from('x'), MacAlgorithm: 'HMAC_SHA_512' }),
          ),
        )
      ).name,
    ).toBe('InvalidKeyUsageException');
    expect(
      (
        await errorOf(
          kms.send(
            new GenerateMacCommand({
              KeyId: keys.SYMMETRIC,
              Message: Buffer.from('x'),
              MacAlgorithm: 'HMAC_SHA_256',
            }),
          ),
        )
      ).name,
    ).toBe('InvalidKeyUsageException');
    expect(
      (
        await errorOf(
          kms.send(
            new GenerateMacCommand({ KeyId, Message: Buffer.alloc(4097), MacAlgorithm: 'HMAC_SHA_256' }),
          ),
        )
      ).name,
    ).toBe('ValidationException');
  });
});

describe('grants and conditions', () => {
  it('CreateGrant allows only the operations of the key kind; a grant for Sign lets the grantee sign', async () => {
    const grantee = t.principal(GRANTEE).arn;
    const refused = [
      { KeyId: keys.SYMMETRIC, Operations: ['Sign' as const] },
      { KeyId: keys.ECC_NIST_P256, Operations: ['GenerateDataKey' as const] },
      { KeyId: keys.HMAC_256, Operations: ['GetPublicKey' as const] },
      { KeyId: keys.RSA_ENCRYPT, Operations: ['Sign' as const] },
    ];
    for (const r of refused) {
      expect(
        (await errorOf(kms.send(new CreateGrantCommand({ ...r, GranteePrincipal: grantee })))).name,
      ).toBe('ValidationException');
    }
    const constrained = await errorOf(
      kms.send(
        new CreateGrantCommand({
          KeyId: keys.ECC_NIST_P256,
          GranteePrincipal: grantee,
          Operations: ['Sign'],
          Constraints: { EncryptionContextSubset: { a: 'b' } },
        }),
      ),
    );
    expect(constrained.name).toBe('ValidationException');
    await kms.send(
      new CreateGrantCommand({
        KeyId: keys.ECC_NIST_P256,
        GranteePrincipal: grantee,
        Operations: ['Sign', 'GetPublicKey'],
      }),
    );
    await kms.send(
      new CreateGrantCommand({
        KeyId: keys.SYMMETRIC,
        GranteePrincipal: grantee,
        Operations: ['GenerateDataKeyPairWithoutPlaintext'],
      }),
    );
    const asGrantee = t.client(GRANTEE);
    const Message = Buffer.from('by grant');
    await expect(
      asGrantee.send(
        new SignCommand({ KeyId: keys.ECC_NIST_P256, Message, SigningAlgorithm: 'ECDSA_SHA_256' }),
      ),
    ).resolves.toHaveProperty('Signature');
    await expect(
      asGrantee.send(new GetPublicKeyCommand({ KeyId: keys.ECC_NIST_P256 })),
    ).resolves.toHaveProperty('PublicKey');
    await expect(
      asGrantee.send(
        new GenerateDataKeyPairWithoutPlaintextCommand({
          KeyId: keys.SYMMETRIC,
          KeyPairSpec: 'ECC_NIST_P256',
        }),
      ),
    ).resolves.toHaveProperty('PublicKey');
    // Verify is not in the grant.
    expect(
      (
        await errorOf(
          asGrantee.send(
            new VerifyCommand({
              KeyId: keys.ECC_NIST_P256,
              Message,
              Signature: Buffer.from('x'),
              SigningAlgorithm: 'ECDSA_SHA_256',
            }),
          ),
        )
      ).name,
    ).toBe('AccessDeniedException');
  });

  it('key policies see kms:SigningAlgorithm, kms:MessageType and kms:MacAlgorithm', async () => {
    const service = t.principal(SERVICE).arn;
    const root = `arn:aws:iam::${t.config.accountId}:root`;
    const policy = (Action: string, Condition: Record<string, unknown>) =>
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { AWS: root }, Action: 'kms:*', Resource: '*' },
          { Effect: 'Deny', Principal: { AWS: service }, Action, Resource: '*', Condition },
        ],
      });
    const signing = await createKey({
      KeySpec: 'ECC_NIST_P256',
      KeyUsage: 'SIGN_VERIFY',
      Policy: policy('kms:Sign', { StringEquals: { 'kms:MessageType': 'DIGEST' } }),
    });
    await kms.send(
      new SignCommand({ KeyId: signing, Message: Buffer.from('x'), SigningAlgorithm: 'ECDSA_SHA_256' }),
    );
    expect(
      (
        await errorOf(
          kms.send(
            new SignCommand({
              KeyId: signing,
              Message: Buffer.alloc(32),
              MessageType: 'DIGEST',
              SigningAlgorithm: 'ECDSA_SHA_256',
            }),
          ),
        )
      ).name,
    ).toBe('AccessDeniedException');
    const hmac = await createKey({
      KeySpec: 'HMAC_256',
      KeyUsage: 'GENERATE_VERIFY_MAC',
      Policy: policy('kms:GenerateMac', { StringEquals: { 'kms:MacAlgorithm': 'HMAC_SHA_256' } }),
    });
    expect(
      (
        await errorOf(
          kms.send(
            new GenerateMacCommand({ KeyId: hmac, Message: Buffer.from('x'), MacAlgorithm: 'HMAC_SHA_256' }),
          ),
        )
      ).name,
    ).toBe('AccessDeniedException');
    const pssOnly = await createKey({
      KeySpec: 'RSA_2048',
      KeyUsage: 'SIGN_VERIFY',
      Policy: policy('kms:Sign', { StringNotLike: { 'kms:SigningAlgorithm': 'RSASSA_PSS_*' } }),
    });
    await kms.send(
      new SignCommand({ KeyId: pssOnly, Message: Buffer.from('x'), SigningAlgorithm: 'RSASSA_PSS_SHA_256' }),
    );
    expect(
      (
        await errorOf(
          kms.send(
            new SignCommand({
              KeyId: pssOnly,
              Message: Buffer.from('x'),
              SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256',
            }),
          ),
        )
      ).name,
    ).toBe('AccessDeniedException');
  });
});
