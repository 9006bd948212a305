import {
  CancelKeyDeletionCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  type CreateKeyCommandInput,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyPairCommand,
  GenerateMacCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  GetPublicKeyCommand,
  type KMSClient,
  ListGrantsCommand,
  PutKeyPolicyCommand,
  ReEncryptCommand,
  RevokeGrantCommand,
  ScheduleKeyDeletionCommand,
  SignCommand,
  VerifyCommand,
  VerifyMacCommand,
} from '@aws-sdk/client-kms';
import { CONSOLE_ADMIN_ACTIONS } from '@eaas/aws-rules';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_SESSION, GRANTEE, KEY_MANAGER, KEY_USER } from '../../src/identity.js';
import { COLUMNS, PRINCIPAL, type Who } from '../helpers/callers.js';
import { errorOf } from '../helpers/errors.js';
import { demoKey, demoRoles } from '../helpers/keys.js';
import { startTestKms, type TestKms } from '../helpers/local-kms.js';
import { kmsRaw } from '../helpers/signed-fetch.js';

/**
 * The authorization matrix against the local KMS directly, through @aws-sdk/client-kms: the same
 * callers as the API's matrix, and AccessDeniedException wherever AWS KMS would answer it.
 */

let t: TestKms;
let adminClient: KMSClient;
let key: string;
let revokedKey: string;
let grantId: string;
let blob: Uint8Array;
let revokedBlob: Uint8Array;
const acme = { tenant: 'acme' };

interface Cell {
  allowed: readonly Who[];
  call(kms: KMSClient, keyId: string): Promise<unknown>;
  undo?(kms: KMSClient, keyId: string): Promise<unknown>;
}

const USERS: readonly Who[] = ['user', 'session'];
const ADMIN: readonly Who[] = ['admin'];

const CELLS: Record<string, Cell> = {
  Encrypt: {
    allowed: [...USERS, 'grantee'],
    call: (k, id) =>
      k.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('m'), EncryptionContext: acme })),
  },
  Decrypt: {
    allowed: [...USERS, 'grantee'],
    call: (k, id) =>
      k.send(
        new DecryptCommand({ CiphertextBlob: id === key ? blob : revokedBlob, EncryptionContext: acme }),
      ),
  },
  ReEncrypt: {
    allowed: USERS,
    call: (k, id) =>
      k.send(
        new ReEncryptCommand({
          CiphertextBlob: id === key ? blob : revokedBlob,
          SourceEncryptionContext: acme,
          DestinationKeyId: id,
        }),
      ),
  },
  GenerateDataKey: {
    allowed: USERS,
    call: (k, id) =>
      k.send(new GenerateDataKeyCommand({ KeyId: id, KeySpec: 'AES_256', EncryptionContext: acme })),
  },
  DescribeKey: {
    allowed: [...ADMIN, ...USERS],
    call: (k, id) => k.send(new DescribeKeyCommand({ KeyId: id })),
  },
  DisableKey: {
    allowed: ADMIN,
    call: (k, id) => k.send(new DisableKeyCommand({ KeyId: id })),
    undo: (k, id) => k.send(new EnableKeyCommand({ KeyId: id })),
  },
  EnableKeyRotation: { allowed: ADMIN, call: (k, id) => k.send(new EnableKeyRotationCommand({ KeyId: id })) },
  GetKeyRotationStatus: {
    allowed: ADMIN,
    call: (k, id) => k.send(new GetKeyRotationStatusCommand({ KeyId: id })),
  },
  GetKeyPolicy: { allowed: ADMIN, call: (k, id) => k.send(new GetKeyPolicyCommand({ KeyId: id })) },
  PutKeyPolicy: {
    allowed: ADMIN,
    call: async (k, id) => {
      const { Policy } = await t.client(KEY_MANAGER).send(new GetKeyPolicyCommand({ KeyId: id }));
      return k.send(new PutKeyPolicyCommand({ KeyId: id, Policy }));
    },
  },
  CreateGrant: {
    allowed: ADMIN,
    call: (k, id) =>
      k.send(
        new CreateGrantCommand({
          KeyId: id,
          GranteePrincipal: `arn:aws:iam::${t.config.accountId}:user/someone-else`,
          Operations: ['Encrypt'],
        }),
      ),
    undo: async (k, id) => {
      const { Grants } = await k.send(
        new ListGrantsCommand({
          KeyId: id,
          GranteePrincipal: `arn:aws:iam::${t.config.accountId}:user/someone-else`,
        }),
      );
      for (const g of Grants ?? []) await k.send(new RevokeGrantCommand({ KeyId: id, GrantId: g.GrantId }));
    },
  },
  ListGrants: { allowed: ADMIN, call: (k, id) => k.send(new ListGrantsCommand({ KeyId: id })) },
  RevokeGrant: {
    allowed: ADMIN,
    call: async (k, id) => {
      if (k !== adminClient) return k.send(new RevokeGrantCommand({ KeyId: id, GrantId: grantId }));
      // The administrator revokes a grant made for the purpose, not the grantee's.
      const made = await k.send(
        new CreateGrantCommand({
          KeyId: id,
          GranteePrincipal: `arn:aws:iam::${t.config.accountId}:user/short-lived`,
          Operations: ['Decrypt'],
        }),
      );
      return k.send(new RevokeGrantCommand({ KeyId: id, GrantId: made.GrantId }));
    },
  },
  ScheduleKeyDeletion: {
    allowed: ADMIN,
    call: (k, id) => k.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 })),
    undo: async (k, id) => {
      await k.send(new CancelKeyDeletionCommand({ KeyId: id }));
      await k.send(new EnableKeyCommand({ KeyId: id }));
    },
  },
};

/**
 * Signing and HMAC keys, under the policy the console writes for them: the key users may use the
 * key (Sign, Verify, GetPublicKey / GenerateMac, VerifyMac, DescribeKey), the administrators may
 * manage it (their kms:Get* includes GetPublicKey); the grantee holds a grant for the key's
 * operations, and the revoked caller a grant that was revoked.
 */
interface AsymmetricKeys {
  sign: string;
  mac: string;
  symmetric: string;
}
let asym: AsymmetricKeys;
let revokedAsym: AsymmetricKeys;
let signature: Uint8Array;
let mac: Uint8Array;
const message = Buffer.from('matrix');

const ASYMMETRIC_CELLS: Record<
  string,
  { allowed: readonly Who[]; call(kms: KMSClient, keys: AsymmetricKeys): Promise<unknown> }
> = {
  Sign: {
    allowed: [...USERS, 'grantee'],
    call: (k, keys) =>
      k.send(new SignCommand({ KeyId: keys.sign, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' })),
  },
  Verify: {
    allowed: [...USERS, 'grantee'],
    call: (k, keys) =>
      k.send(
        new VerifyCommand({
          KeyId: keys.sign,
          Message: message,
          Signature: signature,
          SigningAlgorithm: 'ECDSA_SHA_256',
        }),
      ),
  },
  GetPublicKey: {
    allowed: [...ADMIN, ...USERS, 'grantee'],
    call: (k, keys) => k.send(new GetPublicKeyCommand({ KeyId: keys.sign })),
  },
  GenerateMac: {
    allowed: [...USERS, 'grantee'],
    call: (k, keys) =>
      k.send(new GenerateMacCommand({ KeyId: keys.mac, Message: message, MacAlgorithm: 'HMAC_SHA_256' })),
  },
  VerifyMac: {
    allowed: [...USERS, 'grantee'],
    call: (k, keys) =>
      k.send(
        new VerifyMacCommand({ KeyId: keys.mac, Message: message, MacAlgorithm: 'HMAC_SHA_256', Mac: mac }),
      ),
  },
  // On the symmetric key of the matrix above: the users' kms:GenerateDataKey* covers it; the
  // grantee's grant (Encrypt, Decrypt) does not.
  GenerateDataKeyPair: {
    allowed: USERS,
    call: (k, keys) =>
      k.send(new GenerateDataKeyPairCommand({ KeyId: keys.symmetric, KeyPairSpec: 'ECC_NIST_P256' })),
  },
};

/** The console's key policy for a signing or HMAC key, for the tests' roles. */
function asymmetricPolicy(userActions: readonly string[]): string {
  const roles = demoRoles(t);
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${t.config.accountId}:root` },
        Action: 'kms:*',
        Resource: '*',
      },
      {
        Effect: 'Allow',
        Principal: { AWS: roles.administrators },
        Action: CONSOLE_ADMIN_ACTIONS,
        Resource: '*',
      },
      { Effect: 'Allow', Principal: { AWS: roles.users }, Action: userActions, Resource: '*' },
    ],
  });
}

async function asymmetricKeys(admin: KMSClient, symmetric: string, revoke: boolean): Promise<AsymmetricKeys> {
  const create = async (input: CreateKeyCommandInput) =>
    (await admin.send(new CreateKeyCommand(input))).KeyMetadata?.KeyId ?? '';
  const sign = await create({
    KeySpec: 'ECC_NIST_P256',
    KeyUsage: 'SIGN_VERIFY',
    Policy: asymmetricPolicy(['kms:Sign', 'kms:Verify', 'kms:GetPublicKey', 'kms:DescribeKey']),
  });
  const mac = await create({
    KeySpec: 'HMAC_256',
    KeyUsage: 'GENERATE_VERIFY_MAC',
    Policy: asymmetricPolicy(['kms:GenerateMac', 'kms:VerifyMac', 'kms:DescribeKey']),
  });
  for (const [KeyId, Operations] of [
    [sign, ['Sign', 'Verify', 'GetPublicKey']],
    [mac, ['GenerateMac', 'VerifyMac']],
  ] as const) {
    const g = await admin.send(
      new CreateGrantCommand({
        KeyId,
        GranteePrincipal: t.principal(GRANTEE).arn,
        Operations: [...Operations],
      }),
    );
    if (revoke) await admin.send(new RevokeGrantCommand({ KeyId, GrantId: g.GrantId }));
  }
  return { sign, mac, symmetric };
}

beforeAll(async () => {
  t = await startTestKms();
  const admin = t.client(KEY_MANAGER);
  key = (await admin.send(new CreateKeyCommand(demoKey(t)))).KeyMetadata?.KeyId ?? '';
  grantId =
    (
      await admin.send(
        new CreateGrantCommand({
          KeyId: key,
          GranteePrincipal: t.principal(GRANTEE).arn,
          Operations: ['Encrypt', 'Decrypt'],
          Constraints: { EncryptionContextSubset: acme },
        }),
      )
    ).GrantId ?? '';
  blob =
    (
      await t
        .client(KEY_USER)
        .send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('p'), EncryptionContext: acme }))
    ).CiphertextBlob ?? new Uint8Array();

  revokedKey = (await admin.send(new CreateKeyCommand(demoKey(t)))).KeyMetadata?.KeyId ?? '';
  const g = await admin.send(
    new CreateGrantCommand({
      KeyId: revokedKey,
      GranteePrincipal: t.principal(GRANTEE).arn,
      Operations: ['Encrypt', 'Decrypt', 'ReEncryptFrom', 'ReEncryptTo', 'GenerateDataKey', 'DescribeKey'],
    }),
  );
  revokedBlob =
    (
      await t
        .client(GRANTEE)
        .send(new EncryptCommand({ KeyId: revokedKey, Plaintext: Buffer.from('r'), EncryptionContext: acme }))
    ).CiphertextBlob ?? new Uint8Array();
  await admin.send(new RevokeGrantCommand({ KeyId: revokedKey, GrantId: g.GrantId }));

  asym = await asymmetricKeys(admin, key, false);
  revokedAsym = await asymmetricKeys(admin, revokedKey, true);
  const user = t.client(KEY_USER);
  signature =
    (
      await user.send(
        new SignCommand({ KeyId: asym.sign, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' }),
      )
    ).Signature ?? new Uint8Array();
  mac =
    (
      await user.send(
        new GenerateMacCommand({ KeyId: asym.mac, Message: message, MacAlgorithm: 'HMAC_SHA_256' }),
      )
    ).Mac ?? new Uint8Array();
});
afterAll(() => t.stop());

describe.each(COLUMNS)('local KMS as %s', (who) => {
  it.each(Object.keys(CELLS))('%s', async (op) => {
    const cell = CELLS[op] as Cell;
    const kms = t.client(PRINCIPAL[who]);
    if (who === 'admin') adminClient = kms;
    const id = who === 'revoked' ? revokedKey : key;
    if (cell.allowed.includes(who)) {
      await expect(cell.call(kms, id)).resolves.toBeDefined();
      await cell.undo?.(kms, id);
    } else {
      const err = await errorOf(cell.call(kms, id));
      expect(err).toMatchObject({ name: 'AccessDeniedException', status: 400 });
      expect(err.message).toContain(`${t.principal(PRINCIPAL[who]).arn} is not authorized to perform: kms:`);
    }
  });
});

describe.each(COLUMNS)('local KMS signing and HMAC keys as %s', (who) => {
  it.each(Object.keys(ASYMMETRIC_CELLS))('%s', async (op) => {
    const cell = ASYMMETRIC_CELLS[op] as (typeof ASYMMETRIC_CELLS)[string];
    const kms = t.client(PRINCIPAL[who]);
    const keys = who === 'revoked' ? revokedAsym : asym;
    if (cell.allowed.includes(who)) {
      await expect(cell.call(kms, keys)).resolves.toBeDefined();
    } else {
      const err = await errorOf(cell.call(kms, keys));
      expect(err).toMatchObject({ name: 'AccessDeniedException', status: 400 });
      expect(err.message).toContain(`${t.principal(PRINCIPAL[who]).arn} is not authorized to perform: kms:`);
    }
  });
});

describe('callers with no or partial rights', () => {
  it('an unsigned request is MissingAuthenticationTokenException', async () => {
    const res = await kmsRaw(
      t.kms.endpoint,
      undefined,
      'TrentService.DescribeKey',
      JSON.stringify({ KeyId: key }),
    );
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ __type: 'MissingAuthenticationTokenException' });
  });

  it('the grantee may encrypt only with a context that includes tenant=acme', async () => {
    const grantee = t.client(GRANTEE);
    for (const ctx of [{ tenant: 'globex' }, {}, { other: 'acme' }] as Record<string, string>[]) {
      const err = await errorOf(
        grantee.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('x'), EncryptionContext: ctx })),
      );
      expect(err.name, JSON.stringify(ctx)).toBe('AccessDeniedException');
    }
    await expect(
      grantee.send(
        new EncryptCommand({
          KeyId: key,
          Plaintext: Buffer.from('x'),
          EncryptionContext: { tenant: 'acme', extra: '1' },
        }),
      ),
    ).resolves.toHaveProperty('CiphertextBlob');
  });

  it('a session without its session token is not the role session', async () => {
    const p = t.principal(APP_SESSION);
    const { KMSClient } = await import('@aws-sdk/client-kms');
    const noToken = new KMSClient({
      endpoint: t.kms.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey },
      maxAttempts: 1,
    });
    expect((await errorOf(noToken.send(new DescribeKeyCommand({ KeyId: key })))).name).toBe(
      'UnrecognizedClientException',
    );
    noToken.destroy();
  });

  it('a key policy that does not keep the caller able to manage the key is refused', async () => {
    const err = await errorOf(
      t.client(KEY_MANAGER).send(
        new PutKeyPolicyCommand({
          KeyId: key,
          Policy: JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Principal: { AWS: t.principal(KEY_USER).arn },
                Action: 'kms:*',
                Resource: '*',
              },
            ],
          }),
        }),
      ),
    );
    expect(err.name).toBe('MalformedPolicyDocumentException');
  });
});
