import {
  constants,
  createDecipheriv,
  createHash,
  createHmac,
  generateKeyPairSync,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
  privateDecrypt,
  randomBytes,
} from 'node:crypto';
import { privateKeyMaterial, wrapKeyMaterial } from '@eaas/client';
import { describe, expect, it } from 'vitest';
import { withoutAdminDeny } from '../../src/core/admin-deny.js';
import type { DomainError } from '../../src/core/errors.js';
import { kindOf, SYMMETRIC, useOperationsOf } from '../../src/core/key-kinds.js';
import { rolesKeyPolicy, rolesOf } from '../../src/core/key-policy.js';
import type { KeyMaterial, SigningKeys } from '../../src/ports.js';
import { AccessControl } from '../../src/services/access.js';
import type { KeyGuard } from '../../src/services/crypto.js';
import { KeyService } from '../../src/services/keys.js';
import { SigningService } from '../../src/services/signing.js';
import { ACCOUNT, MemoryKms } from '../fakes/kms.js';

/**
 * Keys of every kind through the services, against in-memory fakes: which kinds may be created,
 * the policies they get, the signing and MAC use cases (algorithms, digests of long messages,
 * invalid signatures as answers), importing material, and the client's wrapping of material.
 * The same against the local KMS: test/integration/api-signing.test.ts.
 */

const user = (name: string) => `arn:aws:iam::${ACCOUNT}:user/${name}`;
const ALICE = user('alice');
const BOB = user('bob');
const as = (arn: string) => ({ caller: { arn }, record: () => undefined });
const refusal = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (error) {
    return error as DomainError;
  }
  throw new Error('expected a refusal');
};

describe('key kinds', () => {
  it('defaults the usage a spec has only one of, and asks which for RSA', () => {
    expect(kindOf({})).toEqual(SYMMETRIC);
    expect(kindOf({ keySpec: 'ECC_NIST_P256' })).toEqual({
      spec: 'ECC_NIST_P256',
      usage: 'SIGN_VERIFY',
      origin: 'AWS_KMS',
    });
    expect(kindOf({ keySpec: 'HMAC_256', origin: 'EXTERNAL' }).usage).toBe('GENERATE_VERIFY_MAC');
    expect(() => kindOf({ keySpec: 'RSA_2048' })).toThrow(/say which with keyUsage/);
    for (const bad of [
      { keySpec: 'ECC_NIST_P256', keyUsage: 'ENCRYPT_DECRYPT' },
      { keySpec: 'HMAC_256', keyUsage: 'SIGN_VERIFY' },
      { keyUsage: 'SIGN_VERIFY' },
    ] as const)
      expect(() => kindOf(bad)).toThrow(expect.objectContaining({ code: 'InvalidKeyConfiguration' }));
  });

  it("keeps a symmetric key's policy the document it always was, and gives other kinds their operations", () => {
    const input = {
      accountId: ACCOUNT,
      administrators: [ALICE],
      users: [BOB],
      serviceRoles: [user('svc')],
      adminRoles: [user('adm')],
    };
    expect(JSON.stringify(rolesKeyPolicy({ ...input, kind: SYMMETRIC }))).toBe(
      JSON.stringify(rolesKeyPolicy(input)),
    );
    const signing = rolesKeyPolicy({ ...input, kind: kindOf({ keySpec: 'ECC_NIST_P256' }) });
    const users = signing.Statement.find((s) => s.Sid === 'Allow use of the key');
    expect(users?.Action).toEqual(['kms:Sign', 'kms:Verify', 'kms:GetPublicKey', 'kms:DescribeKey']);
    const external = rolesKeyPolicy({ ...input, kind: kindOf({ keySpec: 'HMAC_256', origin: 'EXTERNAL' }) });
    const admins = external.Statement.find((s) => s.Sid === 'Allow access for Key Administrators');
    expect(admins?.Action).toEqual(
      expect.arrayContaining(['kms:ImportKeyMaterial', 'kms:DeleteImportedKeyMaterial']),
    );
    // Managed and recognised as the service's own for its kind, and the Deny still found.
    const kind = kindOf({ keySpec: 'HMAC_256', origin: 'EXTERNAL' });
    expect(
      rolesOf(external, ACCOUNT, { serviceRoles: [user('svc')], adminRoles: [user('adm')], kind }).managed,
    ).toBe(true);
    expect((withoutAdminDeny(external) as { Statement: unknown[] }).Statement).toHaveLength(
      external.Statement.length - 1,
    );
  });
});

describe('creating keys of every kind', () => {
  const setup = () => {
    const kms = new MemoryKms();
    const material: KeyMaterial & { imported: unknown[] } = {
      imported: [],
      importParameters: async () => ({
        publicKey: Buffer.from('der'),
        importToken: Buffer.from('token'),
        validTo: new Date(Date.UTC(2026, 0, 2)),
      }),
      async importMaterial(arn, input) {
        this.imported.push({ arn, ...input });
        return {};
      },
      deleteMaterial: async () => undefined,
    };
    const keys = new KeyService(kms, new AccessControl(kms, { ttlMs: 0 }), ACCOUNT, { material });
    return { kms, keys, material };
  };

  it('creates signing, MAC and imported keys without rotation, and refuses rotation for them', async () => {
    const { keys } = setup();
    const signing = await keys.create(as(ALICE), { keySpec: 'ECC_NIST_P256', users: [BOB] });
    expect(signing.rotation).toEqual({ enabled: false });
    expect(signing.key).toMatchObject({
      keySpec: 'ECC_NIST_P256',
      keyUsage: 'SIGN_VERIFY',
      origin: 'AWS_KMS',
    });
    const imported = await keys.create(as(ALICE), { origin: 'EXTERNAL' });
    expect(imported.key).toMatchObject({ state: 'PendingImport', origin: 'EXTERNAL' });
    expect(
      await refusal(keys.create(as(ALICE), { keySpec: 'HMAC_256', rotation: { enabled: true } })),
    ).toMatchObject({
      code: 'InvalidKeyConfiguration',
    });
    expect(await refusal(keys.create(as(ALICE), { keySpec: 'RSA_4096' }))).toMatchObject({
      code: 'InvalidKeyConfiguration',
    });
  });

  it('gives grants only of the operations the key takes', async () => {
    const { keys } = setup();
    const { key } = await keys.create(as(ALICE), { keySpec: 'HMAC_256' });
    expect(
      await refusal(keys.createGrant(as(ALICE), key.arn, { grantee: BOB, operations: ['Encrypt'] })),
    ).toMatchObject({
      code: 'ValidationError',
      message: expect.stringContaining('GenerateMac, VerifyMac'),
    });
    await keys.createGrant(as(ALICE), key.arn, { grantee: BOB, operations: ['GenerateMac', 'VerifyMac'] });
    expect(useOperationsOf(kindOf({ keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT' }))).toContain(
      'GetPublicKey',
    );
  });

  it('imports material for administrators of EXTERNAL keys only, with a valid expiry', async () => {
    const { keys, material } = setup();
    const { key } = await keys.create(as(ALICE), { origin: 'EXTERNAL', users: [BOB] });
    const params = await keys.importParameters(as(ALICE), key.arn, {});
    expect(params).toMatchObject({ wrappingKeySpec: 'RSA_4096', wrappingAlgorithm: 'RSAES_OAEP_SHA_256' });
    expect(params.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(await refusal(keys.importParameters(as(BOB), key.arn, {}))).toMatchObject({
      code: 'AccessDenied',
    });
    const token = Buffer.from('token').toString('base64');
    const input = { importToken: token, encryptedKeyMaterial: 'AAAA' };
    expect(await refusal(keys.importMaterial(as(BOB), key.arn, input))).toMatchObject({
      code: 'AccessDenied',
    });
    expect(
      await refusal(keys.importMaterial(as(ALICE), key.arn, { ...input, validTo: '2001-01-01T00:00:00Z' })),
    ).toMatchObject({
      code: 'ValidationError',
    });
    expect(
      await refusal(
        keys.importMaterial(as(ALICE), key.arn, { ...input, expirationModel: 'KEY_MATERIAL_EXPIRES' }),
      ),
    ).toMatchObject({ code: 'ValidationError' });
    await keys.importMaterial(as(ALICE), key.arn, input);
    expect(material.imported).toEqual([
      expect.objectContaining({ expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }),
    ]);
    // A key KMS made: its administrators have no key material actions (refused before anything).
    const own = await keys.create(as(ALICE), {});
    expect(await refusal(keys.importParameters(as(ALICE), own.key.arn, {}))).toMatchObject({
      code: 'AccessDenied',
    });
    const rsa = await keys.create(as(ALICE), {
      origin: 'EXTERNAL',
      keySpec: 'RSA_2048',
      keyUsage: 'SIGN_VERIFY',
    });
    expect((await keys.importParameters(as(ALICE), rsa.key.arn, {})).wrappingAlgorithm).toBe(
      'RSA_AES_KEY_WRAP_SHA_256',
    );
    expect(
      await refusal(
        keys.importParameters(as(ALICE), rsa.key.arn, { wrappingAlgorithm: 'RSAES_OAEP_SHA_256' }),
      ),
    ).toMatchObject({ code: 'InvalidKeyConfiguration' });
  });
});

/** KMS's Sign, Verify and MACs in memory, with node:crypto, as the local KMS does them. */
function memorySigning(
  privateKey: KeyObject,
  hmacKey: Buffer,
): SigningKeys & { calls: { messageType?: string; bytes: number }[] } {
  const calls: { messageType?: string; bytes: number }[] = [];
  // ECDSA over a message (RAW) hashes it; over a digest, the digest is signed as is.
  const signed = (message: Uint8Array, messageType: string) =>
    messageType === 'DIGEST' ? message : createHash('sha256').update(message).digest();
  return {
    calls,
    async sign({ keyId, message, messageType }) {
      calls.push({ messageType, bytes: message.byteLength });
      return {
        signature: nodeSign(null, signed(message, messageType), { key: privateKey, dsaEncoding: 'der' }),
        keyArn: keyId,
      };
    },
    async verify({ keyId, message, messageType, signature }) {
      return { valid: nodeVerify(null, signed(message, messageType), privateKey, signature), keyArn: keyId };
    },
    async generateMac({ keyId, message }) {
      return { mac: createHmac('sha256', hmacKey).update(message).digest(), keyArn: keyId };
    },
    async verifyMac({ keyId, message, mac }) {
      return {
        valid: createHmac('sha256', hmacKey).update(message).digest().equals(Buffer.from(mac)),
        keyArn: keyId,
      };
    },
    async publicKey(keyId) {
      return { publicKey: privateKey.export({ format: 'der', type: 'pkcs8' }), keyArn: keyId };
    },
  };
}

describe('signatures and MACs', () => {
  // The fake hashes RAW messages itself, so that RAW and DIGEST agree as they do in KMS.
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const hmacKey = randomBytes(32);
  const kms = new MemoryKms();
  const signer = kms.addKey('{}', { kind: kindOf({ keySpec: 'ECC_NIST_P256' }) });
  const mac = kms.addKey('{}', { kind: kindOf({ keySpec: 'HMAC_256' }) });
  const symmetric = kms.addKey('{}');
  const actions: string[] = [];
  const guard: KeyGuard = async (keyId, action) => {
    actions.push(action);
    return keyId;
  };

  it("signs with the key's algorithm, a long message as its digest, and verifies either way", async () => {
    const fake = memorySigning(privateKey, hmacKey);
    const signing = new SigningService(fake, kms);
    const short = Buffer.from('short message');
    const out = await signing.sign({ keyId: signer, message: short }, guard);
    expect(out).toMatchObject({ algorithm: 'ECDSA_SHA_256', messageType: 'RAW' });
    const long = randomBytes(10_000);
    const longOut = await signing.sign({ keyId: signer, message: long }, guard);
    expect(longOut.messageType).toBe('DIGEST');
    expect(fake.calls.at(-1)).toEqual({ messageType: 'DIGEST', bytes: 32 });
    // (That the signature is of the whole message, as openssl reads it, is checked against the
    // local KMS: test/integration/api-signing.test.ts.)
    expect(
      (await signing.verify({ keyId: signer, message: long, signature: longOut.signature }, guard)).valid,
    ).toBe(true);
    expect(
      (await signing.verify({ keyId: signer, message: short, signature: longOut.signature }, guard)).valid,
    ).toBe(false);
    expect(actions).toEqual(['kms:Sign', 'kms:Sign', 'kms:Verify', 'kms:Verify']);
  });

  it('refuses the wrong kind of key, an algorithm the key lacks, a digest of the wrong length, and long MACs', async () => {
    const signing = new SigningService(memorySigning(privateKey, hmacKey), kms);
    expect(await refusal(signing.sign({ keyId: symmetric, message: Buffer.from('m') }, guard))).toMatchObject(
      { code: 'InvalidKeyUsage' },
    );
    expect(
      await refusal(signing.generateMac({ keyId: signer, message: Buffer.from('m') }, guard)),
    ).toMatchObject({ code: 'InvalidKeyUsage' });
    expect(
      await refusal(
        signing.sign({ keyId: signer, message: Buffer.from('m'), algorithm: 'RSASSA_PSS_SHA_256' }, guard),
      ),
    ).toMatchObject({ code: 'InvalidKeyUsage' });
    expect(
      await refusal(signing.sign({ keyId: signer, message: Buffer.alloc(20), messageType: 'DIGEST' }, guard)),
    ).toMatchObject({ code: 'ValidationError' });
    expect(
      await refusal(signing.generateMac({ keyId: mac, message: Buffer.alloc(4097) }, guard)),
    ).toMatchObject({
      code: 'PayloadTooLarge',
    });
    expect(await refusal(signing.publicKey(mac, guard))).toMatchObject({ code: 'UnsupportedOperation' });
  });

  it('makes and checks MACs; a wrong one is valid: false', async () => {
    const signing = new SigningService(memorySigning(privateKey, hmacKey), kms);
    const message = Buffer.from('pay 42');
    const out = await signing.generateMac({ keyId: mac, message }, guard);
    expect(out.algorithm).toBe('HMAC_SHA_256');
    expect(Buffer.from(out.mac)).toEqual(createHmac('sha256', hmacKey).update(message).digest());
    expect((await signing.verifyMac({ keyId: mac, message, mac: out.mac }, guard)).valid).toBe(true);
    expect(
      (await signing.verifyMac({ keyId: mac, message: Buffer.from('pay 43'), mac: out.mac }, guard)).valid,
    ).toBe(false);
  });
});

describe('wrapping key material (the client)', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const unwrapAes = (blob: Buffer) => {
    const aesKey = privateDecrypt(
      { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      blob.subarray(0, 256),
    );
    const d = createDecipheriv('id-aes256-wrap-pad', aesKey, Buffer.from('A65959A6', 'hex'));
    return Buffer.concat([d.update(blob.subarray(256)), d.final()]);
  };

  it('wraps with RSA-OAEP SHA-256, or AES key wrap with padding under an RSA-OAEP wrapped AES key', () => {
    const material = randomBytes(32);
    const pem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const oaep = wrapKeyMaterial(material, pem, 'RSAES_OAEP_SHA_256');
    expect(
      privateDecrypt(
        { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        oaep,
      ),
    ).toEqual(material);
    const der = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    const rsaMaterial = privateKeyMaterial(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);
    const wrapped = wrapKeyMaterial(rsaMaterial, der, 'RSA_AES_KEY_WRAP_SHA_256');
    expect(unwrapAes(wrapped)).toEqual(rsaMaterial);
  });
});
