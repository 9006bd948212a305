import { rmSync } from 'node:fs';
import {
  CreateGrantCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GetKeyPolicyCommand,
  type KMSClient,
  PutKeyPolicyCommand,
  ReEncryptCommand,
} from '@aws-sdk/client-kms';
import { APP_ROLE, APP_SESSION, GRANTEE, KEY_MANAGER, KEY_USER, SERVICE } from '@eaas/aws-local';
import type { PolicyDocument } from '@eaas/aws-rules';
import type { RawResponse } from '@eaas/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_DENY_SID,
  ADMIN_SID,
  CRYPTO_ACTIONS,
  rolesKeyPolicy,
  rolesOf,
} from '../../src/core/key-policy.js';
import { LOCAL_SERVICE_TAGS } from '../helpers/keys.js';
import { makeDataDir } from '../helpers/local-kms.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * Issue 12, finding 3: an administrator of a key must not obtain any cryptographic right on it,
 * through the API (a raw policy, a grant) or directly against KMS (a grant it gives itself).
 */

let t: TestStack;
let arn: (name: string) => string;
const globex = { tenant: 'globex' };
const b64 = (s: string) => Buffer.from(s).toString('base64');

async function ok(res: Promise<RawResponse>): Promise<Record<string, unknown>> {
  const r = await res;
  if (r.status !== 200) throw new Error(`expected 200, got ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as Record<string, unknown>;
}

/** Key D: created through the API by myKeyManager (so it administers it), used by myKeyUser. */
async function keyD(): Promise<string> {
  const out = await ok(
    t.client(KEY_MANAGER).raw('POST', '/v1/keys', { users: [arn(KEY_USER)], rotation: { enabled: false } }),
  );
  return (out.key as { keyId: string }).keyId;
}

async function policyOf(key: string): Promise<PolicyDocument> {
  return (await ok(t.client(KEY_MANAGER).raw('GET', `/v1/keys/${key}/policy`))).policy as PolicyDocument;
}

const kmsError = (p: Promise<unknown>) =>
  p.then(
    () => 'allowed',
    (e: Error) => e.name,
  );

/** Every way the API could use the key for the caller: all must be refused. */
async function expectNoUse(who: string, key: string, ciphertext: string): Promise<void> {
  const c = t.client(who);
  const tries: [string, Promise<RawResponse>][] = [
    ['encrypt', c.raw('POST', '/v1/encrypt', { keyId: key, plaintext: b64('x'), context: globex })],
    ['decrypt', c.raw('POST', '/v1/decrypt', { keyId: key, ciphertext, context: globex })],
    ['data key', c.raw('POST', '/v1/data-keys', { keyId: key, context: globex })],
    [
      're-encrypt to',
      c.raw('POST', '/v1/re-encrypt', { ciphertext, context: globex, destinationKeyId: key }),
    ],
    ['document', c.rawBytes('GET', `/v1/objects/${encodeURIComponent('globex/contract.pdf')}`)],
  ];
  for (const [what, res] of tries) expect([400, 403, 404], what).toContain((await res).status);
}

/** The account root statement, so that the service's role still reads and uses a key made straight in KMS. */
const rootStatement = () => ({
  Sid: 'root',
  Effect: 'Allow',
  Principal: { AWS: `arn:aws:iam::${t.config.accountId}:root` },
  Action: 'kms:*',
  Resource: '*',
});

beforeAll(async () => {
  // Each function keeps its own authorization cache, as each Lambda does: a change made through
  // the keys function reaches the others within EAAS_AUTHZ_CACHE_SECONDS. These tests check each
  // decision at once, so they keep none.
  t = await startTestStack({ env: { EAAS_AUTHZ_CACHE_SECONDS: '0' } });
  arn = (name) => t.principal(name).arn;
});
afterAll(() => t.stop());

describe('a raw policy under which an administrator could use its key is refused', () => {
  it.each([['kms:Decrypt'], ['kms:*'], ['kms:ReEncryptTo'], ['kms:GenerateDataKeyWithoutPlaintext']])(
    'an administrator naming itself for %s under {"Null":{"kms:EncryptionContext:tenant":"false"}}',
    async (action) => {
      const key = await keyD();
      const m = t.client(KEY_MANAGER);
      const current = await policyOf(key);
      const attack = {
        Sid: 'me too',
        Effect: 'Allow',
        Principal: { AWS: arn(KEY_MANAGER) },
        Action: action,
        Resource: '*',
        Condition: { Null: { 'kms:EncryptionContext:tenant': 'false' } },
      };
      // As the reviewer wrote it: the service's statements but the Deny, plus its own.
      const withoutDeny = current.Statement.filter((s) => s.Sid !== ADMIN_DENY_SID);
      const put = await m.raw('PUT', `/v1/keys/${key}/policy`, {
        policy: { ...current, Statement: [...withoutDeny, attack] },
      });
      expect(put.status).toBe(400);
      expect(put.body).toMatchObject({
        error: 'SeparationOfDuties',
        message: expect.stringContaining(arn(KEY_MANAGER)),
      });
      // The same through Principal "*" and an aws:PrincipalArn condition (refused before: still).
      const star = {
        ...attack,
        Principal: '*',
        Condition: { StringEquals: { 'aws:PrincipalArn': arn(KEY_MANAGER) } },
      };
      const starPut = await m.raw('PUT', `/v1/keys/${key}/policy`, {
        policy: { ...current, Statement: [...withoutDeny, star] },
      });
      expect(starPut.body).toMatchObject({ error: 'SeparationOfDuties' });
      // The policy is unchanged, and the administrator still uses nothing.
      expect(await ok(m.raw('GET', `/v1/keys/${key}/policy`))).toMatchObject({ managed: true });
      const sealed = await t
        .client(KEY_USER)
        .encrypt({ keyId: key, plaintext: 'globex secret', context: globex });
      await expectNoUse(KEY_MANAGER, key, Buffer.from(sealed.ciphertext).toString('base64'));
    },
  );

  it('with the Deny of the cryptographic operations kept, the same statement is harmless and accepted', async () => {
    const key = await keyD();
    const m = t.client(KEY_MANAGER);
    const current = await policyOf(key);
    const attack = {
      Effect: 'Allow',
      Principal: { AWS: arn(KEY_MANAGER) },
      Action: 'kms:*',
      Resource: '*',
      Condition: { Null: { 'kms:EncryptionContext:tenant': 'false' } },
    };
    await ok(
      m.raw('PUT', `/v1/keys/${key}/policy`, {
        policy: { ...current, Statement: [...current.Statement, attack] },
      }),
    );
    const sealed = await t
      .client(KEY_USER)
      .encrypt({ keyId: key, plaintext: 'globex secret', context: globex });
    await expectNoUse(KEY_MANAGER, key, Buffer.from(sealed.ciphertext).toString('base64'));
  });
});

describe('an administrator cannot give itself use of its key directly in KMS', () => {
  it('CreateGrant to itself for Encrypt and Decrypt: the grant does not work, in KMS or through the API', async () => {
    const key = await keyD();
    const user = t.client(KEY_USER);
    const stored = await user.rawBytes(
      'PUT',
      `/v1/objects/${encodeURIComponent('globex/contract.pdf')}`,
      Buffer.from('globex contract'),
      { keyId: key, context: JSON.stringify(globex) },
      'application/pdf',
    );
    expect(stored.status).toBe(200);
    const sealed = await user.encrypt({ keyId: key, plaintext: 'globex secret', context: globex });

    const kms: KMSClient = t.kms(KEY_MANAGER);
    const out = await kms
      .send(
        new CreateGrantCommand({
          KeyId: key,
          GranteePrincipal: arn(KEY_MANAGER),
          Operations: ['Encrypt', 'Decrypt', 'GenerateDataKey', 'ReEncryptFrom', 'ReEncryptTo'],
        }),
      )
      .catch((e: Error) => e);
    // KMS may refuse the grant; if it makes it, the Deny in the key policy wins over it.
    const GrantTokens = out instanceof Error ? undefined : out.GrantToken ? [out.GrantToken] : undefined;
    expect(
      await kmsError(
        kms.send(
          new EncryptCommand({
            KeyId: key,
            Plaintext: Buffer.from('x'),
            EncryptionContext: globex,
            GrantTokens,
          }),
        ),
      ),
    ).toBe('AccessDeniedException');
    expect(
      await kmsError(
        kms.send(
          new DecryptCommand({
            KeyId: key,
            CiphertextBlob: sealed.ciphertext,
            EncryptionContext: globex,
            GrantTokens,
          }),
        ),
      ),
    ).toBe('AccessDeniedException');
    expect(
      await kmsError(kms.send(new GenerateDataKeyCommand({ KeyId: key, KeySpec: 'AES_256', GrantTokens }))),
    ).toBe('AccessDeniedException');
    expect(
      await kmsError(
        kms.send(
          new ReEncryptCommand({
            CiphertextBlob: sealed.ciphertext,
            SourceEncryptionContext: globex,
            DestinationKeyId: key,
            GrantTokens,
          }),
        ),
      ),
    ).toBe('AccessDeniedException');
    // Through the API: nothing, not even with the grant token.
    await expectNoUse(KEY_MANAGER, key, Buffer.from(sealed.ciphertext).toString('base64'));
    if (GrantTokens) {
      const withToken = await t.client(KEY_MANAGER).raw('POST', '/v1/encrypt', {
        keyId: key,
        plaintext: b64('x'),
        context: globex,
        grantTokens: GrantTokens,
      });
      expect(withToken.status).toBe(403);
    }
    // The user keeps its document.
    const read = await user.rawBytes('GET', `/v1/objects/${encodeURIComponent('globex/contract.pdf')}`);
    expect(read.status).toBe(200);
  });

  it('a grantee made an administrator loses the use its grant gave it', async () => {
    const key = await keyD();
    const m = t.client(KEY_MANAGER);
    await ok(
      m.raw('POST', `/v1/keys/${key}/grants`, { grantee: arn(GRANTEE), operations: ['Encrypt', 'Decrypt'] }),
    );
    const g = t.client(GRANTEE);
    const sealed = await g.encrypt({ keyId: key, plaintext: 'before', context: globex });
    await ok(
      m.raw('PUT', `/v1/keys/${key}/policy`, {
        administrators: [arn(KEY_MANAGER), arn(GRANTEE)],
        users: [arn(KEY_USER)],
      }),
    );
    await expectNoUse(GRANTEE, key, Buffer.from(sealed.ciphertext).toString('base64'));
    expect(
      await kmsError(
        t
          .kms(GRANTEE)
          .send(new DecryptCommand({ CiphertextBlob: sealed.ciphertext, EncryptionContext: globex })),
      ),
    ).toBe('AccessDeniedException');
  });
});

describe('a policy put straight in KMS that lets an administrator use its key', () => {
  it('does not make the API encrypt or decrypt for it: PutKeyPolicy by the administrator, and CreateKey with its own policy', async () => {
    // myGrantee creates a key through the API (so administers it), then rewrites its policy in KMS.
    const made = await ok(t.client(GRANTEE).raw('POST', '/v1/keys', { rotation: { enabled: false } }));
    const key = (made.key as { keyId: string }).keyId;
    const keyArn = (made.key as { arn: string }).arn;
    const mine = {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'all mine',
          Effect: 'Allow',
          Principal: { AWS: arn(GRANTEE) },
          Action: 'kms:*',
          Resource: '*',
        },
        // The account root statement, so the service's role still reads and uses the key (its IAM
        // policy decides), as in the policies the service writes.
        rootStatement(),
      ],
    };
    await t.kms(GRANTEE).send(new PutKeyPolicyCommand({ KeyId: key, Policy: JSON.stringify(mine) }));
    // KMS itself now lets it encrypt: what a direct policy write can do, the API does not follow.
    expect(
      await kmsError(t.kms(GRANTEE).send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('x') }))),
    ).toBe('allowed');
    const c = t.client(GRANTEE);
    const refused = await c.raw('POST', '/v1/encrypt', { keyId: key, plaintext: b64('x') });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ error: 'AccessDenied' });
    expect((await c.raw('POST', '/v1/data-keys', { keyId: key })).status).toBe(403);
    const why = await ok(c.raw('GET', '/v1/whoami', undefined, { keyId: keyArn }));
    const ops = (why.access as { operations: { action: string; reason: string; allowed: boolean }[] })
      .operations;
    expect(ops.find((o) => o.action === 'kms:Encrypt')).toMatchObject({
      allowed: false,
      reason: 'separation-of-duties',
    });
    // A key made straight in KMS by myKeyManager (its IAM policy allows CreateKey) with such a policy.
    const direct = await t.kms(KEY_MANAGER).send(
      new CreateKeyCommand({
        Tags: LOCAL_SERVICE_TAGS,
        Policy: JSON.stringify({
          ...mine,
          Statement: [{ ...mine.Statement[0], Principal: { AWS: arn(KEY_MANAGER) } }, mine.Statement[1]],
        }),
      }),
    );
    const directKey = direct.KeyMetadata?.KeyId ?? '';
    expect(
      (await t.client(KEY_MANAGER).raw('POST', '/v1/encrypt', { keyId: directKey, plaintext: b64('x') }))
        .status,
    ).toBe(403);
    const listed = await ok(t.client(KEY_MANAGER).raw('GET', '/v1/keys', undefined, { limit: '100' }));
    const entry = (listed.keys as { keyId: string; access: { use: boolean } }[]).find(
      (k) => k.keyId === directKey,
    );
    expect(entry?.access.use).toBe(false);
  });

  it('nor when its managing rights hang on a context condition, or come from a grant of CreateGrant', async () => {
    const root = rootStatement();
    // Managing only "without a tenant" (management calls carry no context), using with one.
    const conditioned = await t.kms(KEY_MANAGER).send(
      new CreateKeyCommand({
        Tags: LOCAL_SERVICE_TAGS,
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            root,
            {
              Effect: 'Allow',
              Principal: { AWS: arn(KEY_MANAGER) },
              Action: 'kms:*',
              Resource: '*',
              Condition: { Null: { 'kms:EncryptionContext:tenant': 'true' } },
            },
            {
              Effect: 'Allow',
              Principal: { AWS: arn(KEY_MANAGER) },
              Action: ['kms:Encrypt', 'kms:Decrypt'],
              Resource: '*',
            },
          ],
        }),
      }),
    );
    const m = t.client(KEY_MANAGER);
    const encrypt = (keyId: string, context?: Record<string, string>) =>
      m.raw('POST', '/v1/encrypt', { keyId, plaintext: b64('x'), ...(context ? { context } : {}) });
    const conditionedKey = conditioned.KeyMetadata?.KeyId ?? '';
    expect((await encrypt(conditionedKey, { tenant: 'x' })).status).toBe(403);
    expect((await encrypt(conditionedKey)).status).toBe(403);
    // A grant of CreateGrant with Encrypt and Decrypt, given straight in KMS by the service's role:
    // its holder can hand the key's use to anyone, so it manages it.
    const granted = await t.kms(SERVICE).send(
      new CreateKeyCommand({
        Tags: LOCAL_SERVICE_TAGS,
        Policy: JSON.stringify({ Version: '2012-10-17', Statement: [root] }),
      }),
    );
    const grantedKey = granted.KeyMetadata?.KeyId ?? '';
    await t.kms(SERVICE).send(
      new CreateGrantCommand({
        KeyId: grantedKey,
        GranteePrincipal: arn(KEY_MANAGER),
        Operations: ['CreateGrant', 'Encrypt', 'Decrypt'],
      }),
    );
    expect((await encrypt(grantedKey)).status).toBe(403);
    expect((await encrypt(grantedKey, { tenant: 'x' })).status).toBe(403);
  });

  it('nor for a fresh grant of CreateGrant passed by its token, while the grants cache is older', async () => {
    const root = rootStatement();
    const made = await t.kms(SERVICE).send(
      new CreateKeyCommand({
        Tags: LOCAL_SERVICE_TAGS,
        Policy: JSON.stringify({ Version: '2012-10-17', Statement: [root] }),
      }),
    );
    const keyId = made.KeyMetadata?.KeyId ?? '';
    const g = t.client(GRANTEE);
    // Refused, and "no grants" cached for myGrantee.
    expect((await g.raw('POST', '/v1/encrypt', { keyId, plaintext: b64('x') })).status).toBe(403);
    const grant = await t.kms(SERVICE).send(
      new CreateGrantCommand({
        KeyId: keyId,
        GranteePrincipal: arn(GRANTEE),
        Operations: ['Encrypt', 'CreateGrant'],
      }),
    );
    const withToken = await g.raw('POST', '/v1/encrypt', {
      keyId,
      plaintext: b64('x'),
      grantTokens: [grant.GrantToken ?? ''],
    });
    expect(withToken.status).toBe(403);
  });
});

describe('grants through the API go to no one who may manage the key', () => {
  it('not to the account (any principal of it), nor to a role one of whose sessions administers the key', async () => {
    const key = await keyD();
    const m = t.client(KEY_MANAGER);
    const account = await m.raw('POST', `/v1/keys/${key}/grants`, {
      grantee: `arn:aws:iam::${t.config.accountId}:root`,
      operations: ['Decrypt'],
    });
    expect(account.body).toMatchObject({ error: 'SeparationOfDuties' });

    // The session of myAppRole administers the key (tags), and is denied its use.
    const current = await policyOf(key);
    const session = arn(APP_SESSION);
    await ok(
      m.raw('PUT', `/v1/keys/${key}/policy`, {
        policy: {
          ...current,
          Statement: [
            ...current.Statement,
            { Effect: 'Allow', Principal: { AWS: session }, Action: 'kms:TagResource', Resource: '*' },
            { Effect: 'Deny', Principal: { AWS: session }, Action: [...CRYPTO_ACTIONS], Resource: '*' },
          ],
        },
      }),
    );
    const toRole = await m.raw('POST', `/v1/keys/${key}/grants`, {
      grantee: `arn:aws:iam::${t.config.accountId}:role/${APP_ROLE}`,
      operations: ['Decrypt'],
    });
    expect(toRole.body).toMatchObject({ error: 'SeparationOfDuties' });
    // A grant given to the session's ARN is stored as its role: refused the same way.
    const toSession = await m.raw('POST', `/v1/keys/${key}/grants`, {
      grantee: session,
      operations: ['Encrypt'],
    });
    expect(toSession.body).toMatchObject({ error: 'SeparationOfDuties' });
    // A user of the key may still be given a grant.
    await ok(m.raw('POST', `/v1/keys/${key}/grants`, { grantee: arn(GRANTEE), operations: ['Decrypt'] }));
  });
});

describe('the seed key of an earlier version', () => {
  it('gets the Deny for its administrators at the next start, so a grant to itself stops working', async () => {
    const dataDir = makeDataDir();
    try {
      const first = await startTestStack({ dataDir });
      const kms = first.kms(KEY_MANAGER);
      const id = (await kms.send(new DescribeKeyCommand({ KeyId: 'alias/eaas-default' }))).KeyMetadata?.KeyId;
      const current = JSON.parse((await kms.send(new GetKeyPolicyCommand({ KeyId: id }))).Policy ?? '{}');
      // The policy as the seed wrote it before: the account root allowed kms:* (version 2 and
      // earlier), the console's administrator actions, no Deny.
      const { administrators, users } = rolesOf(current, first.config.accountId);
      const doc = JSON.parse(
        JSON.stringify(rolesKeyPolicy({ accountId: first.config.accountId, administrators, users })),
      );
      const before = {
        ...doc,
        Id: 'eaas-key-policy-1',
        Statement: doc.Statement.filter((st: { Sid: string }) => st.Sid !== ADMIN_DENY_SID).map(
          (st: { Sid: string }) =>
            st.Sid === ADMIN_SID
              ? {
                  ...st,
                  Action: [
                    'kms:Create*',
                    'kms:Describe*',
                    'kms:Enable*',
                    'kms:List*',
                    'kms:Put*',
                    'kms:Update*',
                    'kms:Revoke*',
                    'kms:Disable*',
                    'kms:Get*',
                    'kms:Delete*',
                    'kms:TagResource',
                    'kms:UntagResource',
                    'kms:ScheduleKeyDeletion',
                    'kms:CancelKeyDeletion',
                    'kms:RotateKeyOnDemand',
                  ],
                }
              : st,
        ),
      };
      await kms.send(new PutKeyPolicyCommand({ KeyId: id, Policy: JSON.stringify(before, null, 2) }));
      const grant = await kms.send(
        new CreateGrantCommand({
          KeyId: id,
          GranteePrincipal: first.principal(KEY_MANAGER).arn,
          Operations: ['Encrypt'],
        }),
      );
      const encrypt = (c: KMSClient) =>
        kmsError(
          c.send(
            new EncryptCommand({
              KeyId: id,
              Plaintext: Buffer.from('x'),
              GrantTokens: [grant.GrantToken ?? ''],
            }),
          ),
        );
      expect(await encrypt(kms)).toBe('allowed');
      await first.stop();

      const second = await startTestStack({ dataDir });
      const again = second.kms(KEY_MANAGER);
      const after = JSON.parse((await again.send(new GetKeyPolicyCommand({ KeyId: id }))).Policy ?? '{}');
      expect(after).toMatchObject({ Id: 'eaas-key-policy-3' });
      expect(await encrypt(again)).toBe('AccessDeniedException');
      await second.stop();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
