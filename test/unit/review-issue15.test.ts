import { generateKeyPairSync } from 'node:crypto';
import { type AuthzRequest, authorize, type GrantLike, grantAllows } from '@eaas/aws-rules';
import { checkImportParameters, wrapKeyMaterial } from '@eaas/client';
import { describe, expect, it } from 'vitest';
import { fromKmsError } from '../../src/aws/kms.js';
import type { DomainError } from '../../src/core/errors.js';
import { IMPORT_ACTIONS, kindOf } from '../../src/core/key-kinds.js';
import { ROOT_SID, rolesKeyPolicy, rolesOf, SERVICE_MATERIAL_SID } from '../../src/core/key-policy.js';
import { mayManage } from '../../src/core/separation-of-duties.js';
import { statusOf } from '../../src/http/error-status.js';
import type { SigningKeys } from '../../src/ports.js';
import { AccessControl } from '../../src/services/access.js';
import { KeyService } from '../../src/services/keys.js';
import { SigningService } from '../../src/services/signing.js';
import { ACCOUNT, MemoryKms } from '../fakes/kms.js';

/**
 * The security review of issue 15's API (grant constraints on keys without a context, signing
 * conditions, key states, validation), against in-memory fakes of the ports. The same through
 * the API and the local KMS: test/integration/api-review-issue15.test.ts.
 */

const user = (name: string) => `arn:aws:iam::${ACCOUNT}:user/${name}`;
const ALICE = user('alice');
const BOB = user('bob');
const KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0`;
const as = (arn: string) => ({ caller: { arn }, record: () => undefined });
const refusal = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (error) {
    return error as DomainError;
  }
  throw new Error('expected a refusal');
};

describe('grant constraints on keys whose operations take no encryption context', () => {
  const setup = () => {
    const kms = new MemoryKms();
    const keys = new KeyService(kms, new AccessControl(kms, { ttlMs: 0 }), ACCOUNT);
    return { kms, keys };
  };
  const acme = { encryptionContextSubset: { tenant: 'acme' } };

  it.each([
    [{ keySpec: 'ECC_NIST_P256' }, ['Sign', 'Verify']],
    [{ keySpec: 'RSA_2048', keyUsage: 'SIGN_VERIFY' }, ['Sign']],
    [{ keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT' }, ['Decrypt']],
    [{ keySpec: 'HMAC_256' }, ['GenerateMac']],
  ] as const)(
    'refuses constraints on a %j key with 400 ValidationError, before KMS is asked',
    async (kind, operations) => {
      const { kms, keys } = setup();
      const { key } = await keys.create(as(ALICE), { ...kind });
      const before = kms.calls.createGrant ?? 0;
      const error = await refusal(
        keys.createGrant(as(ALICE), key.arn, {
          grantee: BOB,
          operations: [...operations],
          constraints: acme,
        }),
      );
      expect(error).toMatchObject({
        code: 'ValidationError',
        message: expect.stringContaining('takes no encryption context'),
      });
      expect(kms.calls.createGrant ?? 0).toBe(before);
      // Without the constraint, the grant is made.
      await keys.createGrant(as(ALICE), key.arn, { grantee: BOB, operations: [...operations] });
    },
  );

  it('still takes constraints on a symmetric encryption key', async () => {
    const { keys } = setup();
    const { key } = await keys.create(as(ALICE), {});
    await keys.createGrant(as(ALICE), key.arn, { grantee: BOB, operations: ['Encrypt'], constraints: acme });
  });
});

describe('the evaluator fails closed for a constrained grant and a context-less operation', () => {
  const req = (action: string, extra: Partial<AuthzRequest> = {}): AuthzRequest => ({
    principal: BOB,
    action,
    keyArn: KEY,
    keyAccountId: ACCOUNT,
    ...extra,
  });
  const constrained: GrantLike = {
    grantId: 'g',
    granteePrincipal: BOB,
    operations: [
      'Sign',
      'Verify',
      'GenerateMac',
      'VerifyMac',
      'GetPublicKey',
      'DescribeKey',
      'RetireGrant',
      'Encrypt',
    ],
    constraints: { EncryptionContextSubset: { tenant: 'acme' } },
  };

  it.each(['kms:Sign', 'kms:Verify', 'kms:GenerateMac', 'kms:VerifyMac', 'kms:GetPublicKey'])(
    '%s is not allowed by a constrained grant, whatever the context',
    (action) => {
      expect(grantAllows(constrained, req(action))).toBe(false);
      expect(grantAllows(constrained, req(action, { encryptionContext: { tenant: 'acme' } }))).toBe(false);
      expect(grantAllows({ ...constrained, constraints: undefined }, req(action))).toBe(true);
    },
  );

  it('DescribeKey and RetireGrant ignore the constraint; Encrypt is bound by it', () => {
    expect(grantAllows(constrained, req('kms:DescribeKey'))).toBe(true);
    expect(grantAllows(constrained, req('kms:RetireGrant'))).toBe(true);
    expect(grantAllows(constrained, req('kms:Encrypt', { encryptionContext: { tenant: 'acme' } }))).toBe(
      true,
    );
    expect(grantAllows(constrained, req('kms:Encrypt'))).toBe(false);
  });
});

describe("signing: the caller's message type and the algorithm reach the policy, and the answer says who digested", () => {
  // A stand-in for KMS that signs nothing: these tests are about what is decided and answered.
  const calls: { messageType: string; bytes: number }[] = [];
  const fakeSigning: SigningKeys = {
    async sign({ keyId, message, messageType }) {
      calls.push({ messageType, bytes: message.byteLength });
      return { signature: Buffer.from('sig'), keyArn: keyId };
    },
    async verify({ keyId }) {
      return { valid: true, keyArn: keyId };
    },
    async generateMac({ keyId }) {
      return { mac: Buffer.from('mac'), keyArn: keyId };
    },
    async verifyMac({ keyId }) {
      return { valid: true, keyArn: keyId };
    },
    async publicKey(keyId) {
      return { publicKey: Buffer.from('der'), keyArn: keyId };
    },
  };
  // The owner's "sign messages only, with PSS" policy, in KMS's condition keys.
  const policy = JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'use',
        Effect: 'Allow',
        Principal: { AWS: BOB },
        Action: ['kms:Sign', 'kms:Verify', 'kms:GenerateMac'],
        Resource: '*',
      },
      {
        Sid: 'messages only',
        Effect: 'Deny',
        Principal: { AWS: BOB },
        Action: 'kms:Sign',
        Resource: '*',
        Condition: { StringEquals: { 'kms:MessageType': 'DIGEST' } },
      },
      {
        Sid: 'PSS only',
        Effect: 'Deny',
        Principal: { AWS: BOB },
        Action: 'kms:Sign',
        Resource: '*',
        Condition: { StringLike: { 'kms:SigningAlgorithm': 'RSASSA_PKCS1*' } },
      },
      {
        Sid: 'no HMAC_SHA_224',
        Effect: 'Deny',
        Principal: { AWS: BOB },
        Action: 'kms:GenerateMac',
        Resource: '*',
        Condition: { StringEquals: { 'kms:MacAlgorithm': 'HMAC_SHA_224' } },
      },
    ],
  });
  const kms = new MemoryKms();
  const rsa = kms.addKey(policy, { kind: kindOf({ keySpec: 'RSA_2048', keyUsage: 'SIGN_VERIFY' }) });
  const hmac = kms.addKey(policy, { kind: kindOf({ keySpec: 'HMAC_224' }) });
  const access = new AccessControl(kms, { ttlMs: 0 });
  const signing = new SigningService(fakeSigning, kms);
  const decisions: { action: string; allowed: boolean; by?: string | undefined }[] = [];
  const guard = access.guardFor({ arn: BOB }, (d) => decisions.push(d));

  it('a message the service hashes is RAW to the policy; the answer says digestedBy: "service"', async () => {
    const short = await signing.sign({ keyId: rsa, message: Buffer.from('hi') }, guard);
    expect(short).toMatchObject({ messageType: 'RAW', algorithm: 'RSASSA_PSS_SHA_256' });
    expect(short).not.toHaveProperty('digestedBy');
    const long = await signing.sign({ keyId: rsa, message: Buffer.alloc(5000) }, guard);
    expect(long).toMatchObject({ messageType: 'DIGEST', digestedBy: 'service' });
    expect(calls.at(-1)).toEqual({ messageType: 'DIGEST', bytes: 32 });
  });

  it('a caller\'s digest is DIGEST to the policy (refused here); verify answers digestedBy: "caller"', async () => {
    const refused = await refusal(
      signing.sign({ keyId: rsa, message: Buffer.alloc(32), messageType: 'DIGEST' }, guard),
    );
    expect(refused).toMatchObject({ code: 'AccessDenied' });
    expect(decisions.at(-1)).toMatchObject({ action: 'kms:Sign', allowed: false, by: 'messages only' });
    const verified = await signing.verify(
      { keyId: rsa, message: Buffer.alloc(32), messageType: 'DIGEST', signature: Buffer.from('s') },
      guard,
    );
    expect(verified).toMatchObject({ messageType: 'DIGEST', digestedBy: 'caller' });
  });

  it("kms:SigningAlgorithm is the algorithm asked for or the key's default; kms:MacAlgorithm likewise", async () => {
    expect(
      await refusal(
        signing.sign(
          { keyId: rsa, message: Buffer.from('hi'), algorithm: 'RSASSA_PKCS1_V1_5_SHA_256' },
          guard,
        ),
      ),
    ).toMatchObject({ code: 'AccessDenied' });
    expect(decisions.at(-1)).toMatchObject({ allowed: false, by: 'PSS only' });
    await signing.sign({ keyId: rsa, message: Buffer.from('hi'), algorithm: 'RSASSA_PSS_SHA_512' }, guard);
    // The HMAC_224 key's only algorithm, by default: refused by the Deny on it.
    expect(
      await refusal(signing.generateMac({ keyId: hmac, message: Buffer.from('m') }, guard)),
    ).toMatchObject({
      code: 'AccessDenied',
    });
    expect(decisions.at(-1)).toMatchObject({ action: 'kms:GenerateMac', by: 'no HMAC_SHA_224' });
  });
});

describe('key states and rotation', () => {
  const kmsError = (name: string, message: string) => Object.assign(new Error(message), { name });

  it('a KMSInvalidStateException KMS gives for another reason is 409 InvalidState, not KeyDisabled', () => {
    const other = fromKmsError(
      kmsError(
        'KMSInvalidStateException',
        'arn:... has no imported key material in PENDING_ROTATION state to rotate to.',
      ),
      'k',
    ) as DomainError;
    expect(other.code).toBe('InvalidState');
    expect(statusOf(other.code)).toBe(409);
    expect(other.message).not.toMatch(/disabled/i);
    expect(
      (fromKmsError(kmsError('KMSInvalidStateException', 'arn:... is disabled.'), 'k') as DomainError).code,
    ).toBe('KeyDisabled');
    expect(
      (fromKmsError(kmsError('KMSInvalidStateException', 'arn:... is pending import.'), 'k') as DomainError)
        .code,
    ).toBe('KeyPendingImport');
  });

  it("IncorrectKeyMaterial's message does not claim the key had material before", () => {
    const e = fromKmsError(kmsError('IncorrectKeyMaterialException', ''), 'k') as DomainError;
    expect(e.code).toBe('IncorrectKeyMaterial');
    expect(e.message).toMatch(/key spec/);
    expect(e.message).not.toMatch(/this is other material/);
  });

  it('rotating an imported, signing or HMAC key is refused with 400 UnsupportedOperation before KMS is asked', async () => {
    const kms = new MemoryKms();
    const keys = new KeyService(kms, new AccessControl(kms, { ttlMs: 0 }), ACCOUNT);
    for (const kind of [
      { origin: 'EXTERNAL' },
      { keySpec: 'ECC_NIST_P256' },
      { keySpec: 'HMAC_256' },
    ] as const) {
      const { key } = await keys.create(as(ALICE), { ...kind });
      const error = await refusal(keys.rotate(as(ALICE), key.arn));
      expect(error).toMatchObject({ code: 'UnsupportedOperation' });
      expect(statusOf(error.code)).toBe(400);
      expect(await refusal(keys.putRotation(as(ALICE), key.arn, { enabled: true }))).toMatchObject({
        code: 'UnsupportedOperation',
      });
    }
    expect(kms.calls.rotateNow ?? 0).toBe(0);
    expect(kms.calls.enableRotation ?? 0).toBe(0);
    // A symmetric key KMS makes material for still rotates.
    const { key } = await keys.create(as(ALICE), {});
    await keys.rotate(as(ALICE), key.arn);
    expect(kms.calls.rotateNow).toBe(1);
  });
});

describe("an imported key's material actions: its administrators and the service's administration role only", () => {
  const ADMIN_ROLE = `arn:aws:iam::${ACCOUNT}:role/eaas-keys`;
  const SERVICE_ROLE = `arn:aws:iam::${ACCOUNT}:role/eaas-crypto`;
  const OTHER = `arn:aws:iam::${ACCOUNT}:role/anything-with-kms-star`;
  const kind = kindOf({ keySpec: 'HMAC_256', origin: 'EXTERNAL' });
  const input = {
    accountId: ACCOUNT,
    administrators: [ALICE],
    users: [BOB],
    serviceRoles: [SERVICE_ROLE],
    adminRoles: [ADMIN_ROLE],
    kind,
  };
  const policy = rolesKeyPolicy(input);
  // IAM policies allowing everything: only the key policy's own limits remain.
  const asIam = (principal: string, action: string) =>
    authorize(policy, [], { principal, action, keyArn: KEY, keyAccountId: ACCOUNT, iamAllows: () => true });

  it('the account root statement no longer names them; a statement for the administration role does', () => {
    const root = policy.Statement.find((st) => st.Sid === ROOT_SID);
    for (const a of IMPORT_ACTIONS) expect(root?.Action).not.toContain(a);
    const material = policy.Statement.find((st) => st.Sid === SERVICE_MATERIAL_SID);
    expect(material).toMatchObject({
      Action: [...IMPORT_ACTIONS],
      Condition: { ArnEquals: { 'aws:PrincipalArn': [ADMIN_ROLE] } },
    });
    // A key KMS makes material for has no such statement.
    expect(
      rolesKeyPolicy({ ...input, kind: kindOf({ keySpec: 'HMAC_256' }) }).Statement.some(
        (st) => st.Sid === SERVICE_MATERIAL_SID,
      ),
    ).toBe(false);
  });

  it.each(IMPORT_ACTIONS)(
    '%s: an IAM principal allowed kms:* is refused; the administration role and the administrators are allowed',
    (action) => {
      expect(asIam(OTHER, action).allowed).toBe(false);
      expect(asIam(SERVICE_ROLE, action).allowed).toBe(false);
      expect(asIam(ADMIN_ROLE, action).allowed).toBe(true);
      expect(asIam(ALICE, action).allowed).toBe(true);
      expect(asIam(BOB, action).allowed).toBe(false);
    },
  );

  it("the policy is still the service's own, and separation of duties still sees who may manage", () => {
    expect(
      rolesOf(policy, ACCOUNT, { serviceRoles: [SERVICE_ROLE], adminRoles: [ADMIN_ROLE], kind }).managed,
    ).toBe(true);
    expect(mayManage(policy, ADMIN_ROLE, KEY)).toBe(true);
    expect(mayManage(policy, ALICE, KEY)).toBe(true);
    expect(mayManage(policy, BOB, KEY)).toBe(false);
  });
});

describe("an RSA encryption key's operations: the same for its users, the service and grants", () => {
  it('users, the service statement and grants name Encrypt, Decrypt, ReEncryptFrom/To, GetPublicKey, DescribeKey', async () => {
    const kind = kindOf({ keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT' });
    const expected = ['Encrypt', 'Decrypt', 'ReEncryptFrom', 'ReEncryptTo', 'GetPublicKey', 'DescribeKey'];
    const policy = rolesKeyPolicy({
      accountId: ACCOUNT,
      administrators: [ALICE],
      users: [BOB],
      serviceRoles: [user('svc')],
      adminRoles: [user('adm')],
      kind,
    });
    const actionsOf = (sid: string) => policy.Statement.find((st) => st.Sid === sid)?.Action;
    expect(actionsOf('Allow use of the key')).toEqual(expected.map((op) => `kms:${op}`));
    expect(actionsOf('Allow use by the encryption service')).toEqual(expected.map((op) => `kms:${op}`));
    const kms = new MemoryKms();
    const keys = new KeyService(kms, new AccessControl(kms, { ttlMs: 0 }), ACCOUNT);
    const { key } = await keys.create(as(ALICE), { keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT' });
    await keys.createGrant(as(ALICE), key.arn, {
      grantee: BOB,
      operations: ['ReEncryptFrom', 'ReEncryptTo'],
    });
    expect(
      await refusal(keys.createGrant(as(ALICE), key.arn, { grantee: BOB, operations: ['GenerateDataKey'] })),
    ).toMatchObject({ code: 'ValidationError' });
  });
});

describe("the client's importKey does not trust the server's wrapping key blindly", () => {
  const rsa = (bits: number) =>
    generateKeyPairSync('rsa', { modulusLength: bits })
      .publicKey.export({ format: 'der', type: 'spki' })
      .toString('base64');
  const rsa2048 = rsa(2048);
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .publicKey.export({ format: 'der', type: 'spki' })
    .toString('base64');

  it('refuses an algorithm other than the one asked for, and SHA-1 unless asked for', () => {
    const offered = { publicKey: rsa2048, wrappingAlgorithm: 'RSAES_OAEP_SHA_1' };
    expect(() => checkImportParameters(offered, {})).toThrow(/not a SHA-256 one/);
    expect(() => checkImportParameters(offered, { wrappingAlgorithm: 'RSAES_OAEP_SHA_256' })).toThrow(
      /not RSAES_OAEP_SHA_256/,
    );
    expect(checkImportParameters(offered, { wrappingAlgorithm: 'RSAES_OAEP_SHA_1' }).asymmetricKeyType).toBe(
      'rsa',
    );
    expect(() =>
      checkImportParameters({ publicKey: rsa2048, wrappingAlgorithm: 'SOMETHING_ELSE' }, {}),
    ).toThrow();
  });

  it('refuses a wrapping key that is not RSA of 2,048 bits or more, or not the spec asked for', () => {
    const alg = { wrappingAlgorithm: 'RSAES_OAEP_SHA_256' };
    expect(() => checkImportParameters({ publicKey: rsa(1024), ...alg }, {})).toThrow(/RSA of 1024 bits/);
    expect(() => checkImportParameters({ publicKey: ec, ...alg }, {})).toThrow(/not RSA/);
    expect(() =>
      checkImportParameters({ publicKey: rsa2048, ...alg }, { wrappingKeySpec: 'RSA_4096' }),
    ).toThrow(/not RSA_4096/);
    expect(
      checkImportParameters({ publicKey: rsa2048, ...alg }, { wrappingKeySpec: 'RSA_2048' }),
    ).toBeDefined();
    // wrapKeyMaterial itself refuses a small or non-RSA key.
    expect(() => wrapKeyMaterial(Buffer.alloc(32), rsa(1024), 'RSAES_OAEP_SHA_256')).toThrow(
      /2048 bits or more/,
    );
    expect(() => wrapKeyMaterial(Buffer.alloc(32), ec, 'RSAES_OAEP_SHA_256')).toThrow(/not RSA/);
  });
});
