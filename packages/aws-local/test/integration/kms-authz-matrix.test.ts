import {
  CancelKeyDeletionCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  type KMSClient,
  ListGrantsCommand,
  PutKeyPolicyCommand,
  ReEncryptCommand,
  RevokeGrantCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_SESSION, GRANTEE, KEY_MANAGER, KEY_USER } from '../../src/identity.js';
import { COLUMNS, PRINCIPAL, type Who } from '../helpers/callers.js';
import { errorOf } from '../helpers/errors.js';
import { demoKey } from '../helpers/keys.js';
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
