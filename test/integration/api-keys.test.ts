import { readFileSync } from 'node:fs';
import { CreateGrantCommand, ListResourceTagsCommand } from '@aws-sdk/client-kms';
import { APP_SESSION, GRANTEE, KEY_MANAGER, KEY_USER, OUTSIDER, SERVICE } from '@eaas/aws-local';
import type { RawResponse } from '@eaas/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_SID } from '../../src/core/key-policy.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

let t: TestStack;
let arn: (name: string) => string;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const acme = { tenant: 'acme' };

async function ok(res: Promise<RawResponse>): Promise<Record<string, unknown>> {
  const r = await res;
  if (r.status !== 200) throw new Error(`expected 200, got ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as Record<string, unknown>;
}

/** A key administered by myKeyManager and used by myKeyUser and the role myAppRole. */
async function newKey(extra: Record<string, unknown> = {}): Promise<string> {
  const out = await ok(
    t.client(KEY_MANAGER).raw('POST', '/v1/keys', {
      users: [arn(KEY_USER), `arn:aws:iam::${t.config.accountId}:role/myAppRole`],
      rotation: { enabled: false },
      ...extra,
    }),
  );
  return (out.key as { keyId: string }).keyId;
}

beforeAll(async () => {
  // Each function keeps its own authorization cache, as each Lambda does: a change made through
  // the keys function reaches the others within EAAS_AUTHZ_CACHE_SECONDS. These tests check each
  // decision at once, so they keep none.
  t = await startTestStack({ env: { EAAS_AUTHZ_CACHE_SECONDS: '0' } });
  arn = (name) => t.principal(name).arn;
});
afterAll(() => t.stop());

describe('a grant bound to an encryption context', () => {
  it('allows encrypt and decrypt with tenant=acme and refuses any other context', async () => {
    const key = await newKey();
    await ok(
      t.client(KEY_MANAGER).raw('POST', `/v1/keys/${key}/grants`, {
        grantee: arn(GRANTEE),
        operations: ['Encrypt', 'Decrypt'],
        constraints: { encryptionContextSubset: acme },
      }),
    );
    const grantee = t.client(GRANTEE);
    const enc = await grantee.encrypt({ keyId: key, plaintext: Buffer.from('acme secret'), context: acme });
    const dec = await grantee.decrypt({ ciphertext: enc.ciphertext, context: acme });
    expect(Buffer.from(dec.plaintext).toString()).toBe('acme secret');

    for (const context of [{ tenant: 'globex' }, {}, { customer: 'acme' }] as Record<string, string>[]) {
      const res = await grantee.raw('POST', '/v1/encrypt', { keyId: key, plaintext: b64('x'), context });
      expect(res.status, JSON.stringify(context)).toBe(403);
      expect(res.body).toMatchObject({ error: 'AccessDenied' });
    }
    // Naming the key, the grantee is refused another context before KMS is asked ...
    const other = await grantee.raw('POST', '/v1/decrypt', {
      ciphertext: Buffer.from(enc.ciphertext).toString('base64'),
      context: { tenant: 'globex' },
      keyId: key,
    });
    expect(other.status).toBe(403);
    // ... and a full user of the key who tries gets the uniform decrypt failure: the context is bound.
    const user = await t.client(KEY_USER).raw('POST', '/v1/decrypt', {
      ciphertext: Buffer.from(enc.ciphertext).toString('base64'),
      context: { tenant: 'globex' },
    });
    expect(user.status).toBe(400);
    expect(user.body).toMatchObject({ error: 'InvalidCiphertext' });
  });

  it('an Encryption SDK message (over 4 KiB) is refused to a caller without rights before KMS is asked', async () => {
    const key = await newKey();
    const big = await t
      .client(KEY_USER)
      .encrypt({ keyId: key, plaintext: Buffer.alloc(10_000, 7), context: acme });
    expect(big.format).toBe('aws-encryption-sdk');
    const res = await t.client(OUTSIDER).raw('POST', '/v1/decrypt', {
      ciphertext: Buffer.from(big.ciphertext).toString('base64'),
      context: acme,
    });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error: 'AccessDenied' });
    const audit = readFileSync(t.stack.auditLog, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const last = audit.filter((r) => r.principal === arn(OUTSIDER)).at(-1);
    expect(last).toMatchObject({ action: 'decrypt', outcome: 'deny' });
    expect(last.decisions).toEqual([
      expect.objectContaining({ action: 'kms:Decrypt', allowed: false, reason: 'implicit-deny' }),
    ]);
  });
});

describe('grant tokens and the cache', () => {
  // A stack with the deployed default cache (30 s), in which the cache shows.
  let cached: TestStack;
  beforeAll(async () => {
    cached = await startTestStack();
  });
  afterAll(() => cached.stop());

  it('a grant made behind the cache works at once with its token, and not without it until the cache expires', async () => {
    const out = await ok(
      cached.client(KEY_MANAGER).raw('POST', '/v1/keys', {
        users: [cached.principal(KEY_USER).arn],
        rotation: { enabled: false },
      }),
    );
    const key = (out.key as { keyId: string }).keyId;
    const grantee = cached.client(GRANTEE);
    const body = { keyId: key, plaintext: b64('x'), context: acme };
    expect((await grantee.raw('POST', '/v1/encrypt', body)).status).toBe(403);
    // Made straight in KMS, so the API's cache of the grantee's grants still says "none".
    const made = await cached.kms(KEY_MANAGER).send(
      new CreateGrantCommand({
        KeyId: key,
        GranteePrincipal: cached.principal(GRANTEE).arn,
        Operations: ['Encrypt'],
      }),
    );
    expect((await grantee.raw('POST', '/v1/encrypt', body)).status).toBe(403);
    const withToken = await grantee.raw('POST', '/v1/encrypt', { ...body, grantTokens: [made.GrantToken] });
    expect(withToken.status).toBe(200);
  });

  it('revoking through the API takes effect at once (each function within its cache time: none here)', async () => {
    const key = await newKey();
    const g = await ok(
      t
        .client(KEY_MANAGER)
        .raw('POST', `/v1/keys/${key}/grants`, { grantee: arn(GRANTEE), operations: ['Encrypt'] }),
    );
    const body = { keyId: key, plaintext: b64('x') };
    expect((await t.client(GRANTEE).raw('POST', '/v1/encrypt', body)).status).toBe(200);
    await ok(t.client(KEY_MANAGER).raw('DELETE', `/v1/keys/${key}/grants/${g.grantId}`));
    expect((await t.client(GRANTEE).raw('POST', '/v1/encrypt', body)).status).toBe(403);
    const again = await t.client(KEY_MANAGER).raw('DELETE', `/v1/keys/${key}/grants/${g.grantId}`);
    expect(again.status).toBe(404);
    expect(again.body).toMatchObject({ error: 'NotFound' });
  });
});

describe('key deletion', () => {
  it('a key pending deletion refuses all crypto clearly; cancel and enable restore it, nothing lost', async () => {
    const key = await newKey();
    const user = t.client(KEY_USER);
    const manager = t.client(KEY_MANAGER);
    const before = await user.encrypt({ keyId: key, plaintext: Buffer.from('kept'), context: acme });
    const big = await user.encrypt({ keyId: key, plaintext: Buffer.alloc(5000, 1), context: acme });

    expect(
      (await manager.raw('DELETE', `/v1/keys/${key}`, undefined, { pendingWindowInDays: '6' })).status,
    ).toBe(400);
    expect(
      (await manager.raw('DELETE', `/v1/keys/${key}`, undefined, { pendingWindowInDays: '31' })).status,
    ).toBe(400);
    const scheduled = await ok(
      manager.raw('DELETE', `/v1/keys/${key}`, undefined, { pendingWindowInDays: '7' }),
    );
    expect(scheduled.key).toMatchObject({ state: 'PendingDeletion', pendingWindowInDays: 7 });
    const days =
      (Date.parse((scheduled.key as { deletionDate: string }).deletionDate) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThan(7.1);

    const ct = Buffer.from(before.ciphertext).toString('base64');
    const refusals = [
      await user.raw('POST', '/v1/encrypt', { keyId: key, plaintext: b64('new') }),
      await user.raw('POST', '/v1/encrypt', { keyId: key, plaintext: b64('x'.repeat(5000)) }),
      await user.raw('POST', '/v1/data-keys', { keyId: key }),
      await user.raw('POST', '/v1/decrypt', { ciphertext: ct, context: acme, keyId: key }),
      await user.raw('POST', '/v1/re-encrypt', { ciphertext: ct, context: acme, destinationKeyId: key }),
    ];
    for (const res of refusals) {
      expect(res.status, JSON.stringify(res.body)).toBe(409);
      expect(res.body).toMatchObject({ error: 'KeyPendingDeletion' });
    }
    // Without naming the key, a decrypt failure keeps the one uniform answer.
    const unnamed = await user.raw('POST', '/v1/decrypt', { ciphertext: ct, context: acme });
    expect(unnamed.body).toMatchObject({ error: 'InvalidCiphertext' });

    const cancelled = await ok(manager.raw('POST', `/v1/keys/${key}/cancel-deletion`));
    expect(cancelled.key).toMatchObject({ state: 'Disabled' });
    expect((await user.raw('POST', '/v1/encrypt', { keyId: key, plaintext: b64('x') })).body).toMatchObject({
      error: 'KeyDisabled',
    });
    await ok(manager.raw('POST', `/v1/keys/${key}/enable`));
    expect(
      Buffer.from(
        (await user.decrypt({ ciphertext: before.ciphertext, context: acme })).plaintext,
      ).toString(),
    ).toBe('kept');
    expect((await user.decrypt({ ciphertext: big.ciphertext, context: acme })).plaintext).toHaveLength(5000);
  });
});

describe('whoami explains', () => {
  it("the grantee's rights: conditional on the context, then allowed by the grant", async () => {
    const key = await newKey();
    const g = await ok(
      t.client(KEY_MANAGER).raw('POST', `/v1/keys/${key}/grants`, {
        grantee: arn(GRANTEE),
        operations: ['Encrypt', 'Decrypt'],
        constraints: { encryptionContextSubset: acme },
      }),
    );
    const plain = await ok(t.client(GRANTEE).raw('GET', '/v1/whoami', undefined, { keyId: key }));
    const ops = (plain.access as { operations: Array<Record<string, unknown>> }).operations;
    const encrypt = ops.find((o) => o.action === 'kms:Encrypt');
    expect(encrypt).toMatchObject({
      allowed: false,
      reason: 'implicit-deny',
      conditionalGrants: [g.grantId],
      route: expect.stringContaining('POST /v1/encrypt'),
    });
    const withContext = await ok(
      t.client(GRANTEE).raw('GET', '/v1/whoami', undefined, { keyId: key, context: JSON.stringify(acme) }),
    );
    const allowed = (withContext.access as { operations: Array<Record<string, unknown>> }).operations.find(
      (o) => o.action === 'kms:Encrypt',
    );
    expect(allowed).toMatchObject({ allowed: true, reason: 'grant', by: g.grantId });
    expect(allowed?.explanation).toBe(`allowed by grant ${g.grantId}`);
    expect((withContext.access as { grants: unknown[] }).grants).toHaveLength(1);
  });

  it('the administrator may manage and not use; the role session is its role', async () => {
    const key = await newKey();
    const admin = await ok(t.client(KEY_MANAGER).raw('GET', '/v1/whoami', undefined, { keyId: key }));
    const byAction = (body: Record<string, unknown>) =>
      Object.fromEntries(
        (
          body.access as { operations: Array<{ action: string; allowed: boolean; by?: string }> }
        ).operations.map((o) => [o.action, o]),
      );
    const a = byAction(admin);
    expect(a['kms:EnableKey']).toMatchObject({ allowed: true, by: ADMIN_SID });
    expect(a['kms:Encrypt']).toMatchObject({ allowed: false });
    const session = await ok(t.client(APP_SESSION).raw('GET', '/v1/whoami', undefined, { keyId: key }));
    expect(session.principal).toBe(`arn:aws:iam::${t.config.accountId}:role/myAppRole`);
    expect(session.callerArn).toBe(arn(APP_SESSION));
    expect(byAction(session)['kms:Encrypt']).toMatchObject({ allowed: true, by: 'Allow use of the key' });
    const bad = await t
      .client(KEY_USER)
      .raw('GET', '/v1/whoami', undefined, { keyId: key, context: '{"a":' });
    expect(bad.status).toBe(400);
  });
});

describe('issue 12, finding 8: whoami explains a key only to those who may see it', () => {
  const keyRoute = (keyId: string) => `/v1/keys/${encodeURIComponent(keyId)}`;

  it('myOutsider asking whoami about alias/eaas-default: 403 as the key routes, no ARN, state or explanation', async () => {
    const outsider = t.client(OUTSIDER);
    const keyArn = (
      await ok(t.client(KEY_USER).raw('GET', '/v1/whoami', undefined, { keyId: 'alias/eaas-default' }))
    ).key as { arn: string; keyId: string };
    const viaKeys = await outsider.raw('GET', keyRoute('alias/eaas-default'));
    expect(viaKeys.status).toBe(403);
    for (const query of [
      { keyId: 'alias/eaas-default' } as Record<string, string>,
      { keyId: 'alias/eaas-default', context: JSON.stringify({ tenant: 'acme' }) },
      { keyId: keyArn.arn },
    ]) {
      const res = await outsider.raw('GET', '/v1/whoami', undefined, query);
      expect(res.status, JSON.stringify(query)).toBe(403);
      expect(res.body).toMatchObject({ error: 'AccessDenied' });
      const text = JSON.stringify(res.body);
      if (query.keyId !== keyArn.arn) {
        // Named by its alias, the key's ARN and id are not told to who may not see the key.
        expect(text).not.toContain(keyArn.arn);
        expect(text).not.toContain(keyArn.keyId);
      }
      expect(text).not.toContain('Enabled');
      expect(res.body).not.toHaveProperty('key');
      expect(res.body).not.toHaveProperty('access');
      expect(text).not.toMatch(/kms:Encrypt|Allow use of the key|grant/i);
    }
  });

  it('the key and crypto routes refuse a key named by its alias without its ARN, id or the refusing statement', async () => {
    const keyArn = (
      await ok(t.client(KEY_USER).raw('GET', '/v1/whoami', undefined, { keyId: 'alias/eaas-default' }))
    ).key as { arn: string; keyId: string };
    const outsider = t.client(OUTSIDER);
    const refusals = [
      await outsider.raw('GET', keyRoute('alias/eaas-default')),
      await outsider.raw('GET', `${keyRoute('alias/eaas-default')}/policy`),
      await outsider.raw('POST', '/v1/encrypt', {
        keyId: 'alias/eaas-default',
        plaintext: Buffer.from('x').toString('base64'),
      }),
    ];
    // Deleting (or pointing elsewhere) an alias of a key one may not manage: refused in the alias's name.
    refusals.push(await outsider.raw('DELETE', `/v1/aliases/${encodeURIComponent('alias/eaas-default')}`));
    // Creating a grant on a key that does not exist is refused as on one the caller may not manage.
    const grantBody = { grantee: arn(OUTSIDER), operations: ['Encrypt'] };
    const onReal = await outsider.raw('POST', `${keyRoute('alias/eaas-default')}/grants`, grantBody);
    const onNone = await outsider.raw('POST', `${keyRoute('alias/no-such-key')}/grants`, grantBody);
    expect([onNone.status, (onNone.body as { error: string }).error]).toEqual([
      onReal.status,
      (onReal.body as { error: string }).error,
    ]);
    expect(onReal.status).toBe(403);
    // An alias that does not exist is refused the same way: no existence oracle.
    const unknown = await outsider.raw('DELETE', `/v1/aliases/${encodeURIComponent('alias/no-such-alias')}`);
    expect([unknown.status, (unknown.body as { error: string }).error]).toEqual([403, 'AccessDenied']);
    for (const res of refusals) {
      expect(res.status).toBe(403);
      const text = JSON.stringify(res.body);
      expect(text).toContain('alias/eaas-default');
      expect(text).not.toContain(keyArn.arn);
      expect(text).not.toContain(keyArn.keyId);
      expect(text).not.toMatch(/Deny|statement \(|Allow use of the key|Key Administrators/);
    }
  });

  it('a key that does not exist is answered as the key routes answer it', async () => {
    for (const keyId of ['alias/no-such-key', '00000000-0000-4000-8000-000000000000']) {
      for (const who of [OUTSIDER, KEY_USER]) {
        const viaKeys = await t.client(who).raw('GET', keyRoute(keyId));
        const viaWhoami = await t.client(who).raw('GET', '/v1/whoami', undefined, { keyId });
        expect(viaWhoami.status, `${who} ${keyId}`).toBe(viaKeys.status);
        expect((viaWhoami.body as { error: string }).error).toBe((viaKeys.body as { error: string }).error);
      }
    }
  });

  it('who may see the key still gets the explanation: its user, and a grantee as GET /v1/keys lists the key to it', async () => {
    const key = await newKey();
    const user = await ok(t.client(KEY_USER).raw('GET', '/v1/whoami', undefined, { keyId: key }));
    expect(user.key).toMatchObject({ keyId: key, state: 'Enabled' });
    await expect(
      t.client(OUTSIDER).raw('GET', '/v1/whoami', undefined, { keyId: key }),
    ).resolves.toMatchObject({
      status: 403,
    });
    await ok(
      t
        .client(KEY_MANAGER)
        .raw('POST', `/v1/keys/${key}/grants`, { grantee: arn(OUTSIDER), operations: ['Encrypt'] }),
    );
    const listed = await ok(t.client(OUTSIDER).raw('GET', '/v1/keys'));
    expect((listed.keys as Array<{ keyId: string }>).map((k) => k.keyId)).toContain(key);
    const granted = await ok(t.client(OUTSIDER).raw('GET', '/v1/whoami', undefined, { keyId: key }));
    expect(granted.key).toMatchObject({ keyId: key });
    expect(granted.access).toBeDefined();
  });
});

describe('key administration', () => {
  it('tags every key it creates with the reserved eaas:service, which no caller can set, spelled in any case or look-alike', async () => {
    const m = t.client(KEY_MANAGER);
    const created = await ok(m.raw('POST', '/v1/keys', { users: [arn(KEY_USER)], tags: { team: 'x' } }));
    const listed = await t
      .kms(SERVICE)
      .send(new ListResourceTagsCommand({ KeyId: (created.key as { keyId: string }).keyId }));
    expect(listed.Tags).toEqual(
      expect.arrayContaining([
        { TagKey: 'eaas:service', TagValue: 'eaas-local' },
        { TagKey: 'team', TagValue: 'x' },
      ]),
    );
    for (const tag of ['eaas:service', 'EAAS:Service', 'eaas:created-by', 'eaa\u017f:service', 'AWS:x']) {
      const refused = await m.raw('POST', '/v1/keys', {
        users: [arn(KEY_USER)],
        tags: { [tag]: 'eaas-prod' },
      });
      expect([refused.status, (refused.body as { error?: string }).error], tag).toEqual([
        400,
        'ValidationError',
      ]);
    }
    // KMS allows 50 tags; the service adds two of its own.
    const many = Object.fromEntries(Array.from({ length: 49 }, (_, i) => [`t${i}`, 'v']));
    expect((await m.raw('POST', '/v1/keys', { users: [arn(KEY_USER)], tags: many })).status).toBe(400);
  });

  it('creates a key with alias, tags and rotation; describes it through an encoded alias', async () => {
    // A name outside any caller's prefix: myKeyManager is the local stack's alias operator
    // (EAAS_ALIAS_OPERATORS unset); api-quotas.test.ts has the naming rule for everyone else.
    const created = await ok(
      t.client(KEY_MANAGER).raw('POST', '/v1/keys', {
        description: 'payments',
        users: [arn(KEY_USER)],
        alias: 'team/payments',
        tags: { team: 'payments' },
        rotation: { enabled: true, periodInDays: 180 },
      }),
    );
    expect(created).toMatchObject({
      administrators: [arn(KEY_MANAGER)],
      users: [arn(KEY_USER)],
      alias: 'alias/team/payments',
      rotation: { enabled: true, periodInDays: 180 },
    });
    const path = `/v1/keys/${encodeURIComponent('alias/team/payments')}`;
    const described = await ok(t.client(KEY_MANAGER).raw('GET', path));
    expect(described.key).toMatchObject({
      description: 'payments',
      state: 'Enabled',
      aliases: ['alias/team/payments'],
      tags: { team: 'payments' },
    });
    // A user may describe the key, but its tags are for its administrators.
    const asUser = await ok(t.client(KEY_USER).raw('GET', path));
    expect(asUser.key).toMatchObject({ aliases: ['alias/team/payments'] });
    expect(asUser.key).not.toHaveProperty('tags');
    const rotation = await ok(
      t.client(KEY_MANAGER).raw('GET', `/v1/keys/${encodeURIComponent('alias/team/payments')}/rotation`),
    );
    expect(rotation).toMatchObject({ enabled: true, periodInDays: 180 });
    const again = await t.client(KEY_MANAGER).raw('POST', '/v1/keys', { alias: 'alias/team/payments' });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: 'AlreadyExists' });
  });

  it('refuses principals that are not IAM ARNs and reserved alias names', async () => {
    const bad = await t.client(KEY_MANAGER).raw('POST', '/v1/keys', { users: ['myKeyUser'] });
    expect(bad.status).toBe(400);
    const reserved = await t.client(KEY_MANAGER).raw('POST', '/v1/keys', { alias: 'alias/aws/s3' });
    expect(reserved.status).toBe(400);
  });

  it('rotation: turn on with a period, rotate now, read the history', async () => {
    const key = await newKey();
    const m = t.client(KEY_MANAGER);
    expect(
      await ok(m.raw('PUT', `/v1/keys/${key}/rotation`, { enabled: true, periodInDays: 90 })),
    ).toMatchObject({
      enabled: true,
      periodInDays: 90,
    });
    await ok(m.raw('POST', `/v1/keys/${key}/rotate`));
    const history = await ok(m.raw('GET', `/v1/keys/${key}/rotations`));
    const rotations = history.rotations as Array<{ rotationType?: string; current: boolean }>;
    expect(rotations.filter((r) => r.rotationType === 'ON_DEMAND')).toHaveLength(1);
    expect(rotations.filter((r) => r.current)).toHaveLength(1);
    expect((await m.raw('PUT', `/v1/keys/${key}/rotation`, { enabled: true, periodInDays: 30 })).status).toBe(
      400,
    );
    expect(await ok(m.raw('PUT', `/v1/keys/${key}/rotation`, { enabled: false }))).toMatchObject({
      enabled: false,
    });
  });

  it('policy: read as administrators and users, replace, refuse a lockout and malformed documents', async () => {
    const key = await newKey();
    const m = t.client(KEY_MANAGER);
    const policy = await ok(m.raw('GET', `/v1/keys/${key}/policy`));
    expect(policy).toMatchObject({ administrators: [arn(KEY_MANAGER)], managed: true });
    expect(policy.users).toContain(arn(KEY_USER));

    await ok(
      m.raw('PUT', `/v1/keys/${key}/policy`, { administrators: [arn(KEY_MANAGER)], users: [arn(GRANTEE)] }),
    );
    expect(
      (await t.client(GRANTEE).raw('POST', '/v1/encrypt', { keyId: key, plaintext: b64('x') })).status,
    ).toBe(200);
    expect(
      (await t.client(KEY_USER).raw('POST', '/v1/encrypt', { keyId: key, plaintext: b64('x') })).status,
    ).toBe(403);

    const lockout = await m.raw('PUT', `/v1/keys/${key}/policy`, {
      administrators: [arn(OUTSIDER)],
      users: [],
    });
    expect(lockout.status).toBe(400);
    expect(lockout.body).toMatchObject({ error: 'PolicyLockout' });
    const malformed = await m.raw('PUT', `/v1/keys/${key}/policy`, {
      policy: { Statement: [{ Effect: 'Maybe' }] },
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({ error: 'ValidationError' });
    const nullPrincipal = await m.raw('PUT', `/v1/keys/${key}/policy`, {
      policy: { Statement: [{ Effect: 'Allow', Principal: null, Action: 'kms:*', Resource: '*' }] },
    });
    expect(nullPrincipal.status).toBe(400);
    const badToken = await m.raw('GET', `/v1/keys/${key}/grants`, undefined, { nextToken: 'not-a-marker' });
    expect(badToken.status).toBe(400);

    // Without the account root statement the service's role could not manage the key any more.
    const noRoot = await m.raw('PUT', `/v1/keys/${key}/policy`, {
      policy: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: arn(KEY_MANAGER) },
            Action: ['kms:Put*', 'kms:Get*'],
            Resource: '*',
          },
        ],
      },
    });
    expect(noRoot.body).toMatchObject({ error: 'PolicyLockout' });

    // One principal both managing and using the key is refused, in a raw document too.
    const both = await m.raw('PUT', `/v1/keys/${key}/policy`, {
      administrators: [arn(KEY_MANAGER)],
      users: [arn(KEY_MANAGER)],
    });
    expect(both.body).toMatchObject({ error: 'SeparationOfDuties' });
    const root = {
      Sid: 'Enable IAM User Permissions',
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${t.config.accountId}:root` },
      Action: 'kms:*',
      Resource: '*',
    };
    const admins = {
      Sid: 'admins',
      Effect: 'Allow',
      Principal: { AWS: arn(KEY_MANAGER) },
      Action: 'kms:*',
      Resource: '*',
    };
    const mixed = await m.raw('PUT', `/v1/keys/${key}/policy`, {
      policy: { Version: '2012-10-17', Statement: [root, admins] },
    });
    expect(mixed.body).toMatchObject({ error: 'SeparationOfDuties' });

    // A raw document with a Deny for the user's Encrypt: Deny wins over the Allow. Its
    // administrator must be denied the cryptographic operations, or the root statement (IAM) or a
    // grant could let it use the key: without that Deny the document is refused.
    const adminsManage = {
      ...admins,
      Action: ['kms:Describe*', 'kms:Get*', 'kms:Put*', 'kms:List*', 'kms:Enable*', 'kms:Disable*'],
    };
    const withoutDeny = await m.raw('PUT', `/v1/keys/${key}/policy`, {
      policy: { Version: '2012-10-17', Statement: [root, adminsManage] },
    });
    expect(withoutDeny.body).toMatchObject({
      error: 'SeparationOfDuties',
      message: expect.stringContaining('account root statement'),
    });
    const raw = {
      Version: '2012-10-17',
      Statement: [
        root,
        adminsManage,
        {
          Sid: 'admins-never-use',
          Effect: 'Deny',
          Principal: { AWS: arn(KEY_MANAGER) },
          Action: [
            'kms:Encrypt',
            'kms:Decrypt',
            'kms:ReEncrypt*',
            'kms:GenerateDataKey*',
            'kms:GenerateMac',
            'kms:VerifyMac',
            'kms:Sign',
            'kms:Verify',
            'kms:DeriveSharedSecret',
          ],
          Resource: '*',
        },
        {
          Sid: 'users',
          Effect: 'Allow',
          Principal: { AWS: arn(KEY_USER) },
          Action: ['kms:Encrypt', 'kms:GenerateDataKey'],
          Resource: '*',
        },
        {
          Sid: 'no-encrypt',
          Effect: 'Deny',
          Principal: { AWS: arn(KEY_USER) },
          Action: 'kms:Encrypt',
          Resource: '*',
        },
      ],
    };
    const put = await ok(m.raw('PUT', `/v1/keys/${key}/policy`, { policy: raw }));
    expect(put).toMatchObject({ managed: false, policy: raw });
    const u = t.client(KEY_USER);
    const refused = await u.raw('POST', '/v1/encrypt', { keyId: key, plaintext: b64('x') });
    expect(refused.body).toMatchObject({ error: 'AccessDenied' });
    // The refusal names no statement; whoami tells a caller who may describe the key which one.
    expect(JSON.stringify(refused.body)).not.toContain('no-encrypt');
    const why = (await ok(u.raw('GET', '/v1/whoami', undefined, { keyId: key }))) as {
      access: { operations: { action: string; by?: string; reason: string }[] };
    };
    expect(why.access.operations.find((o) => o.action === 'kms:Encrypt')).toMatchObject({
      reason: 'explicit-deny',
      by: 'no-encrypt',
    });
    expect((await u.raw('POST', '/v1/data-keys', { keyId: key })).status).toBe(200);
  });

  it('separation of duties: an administrator cannot be granted use; a grant under a grant only narrows', async () => {
    const key = await newKey();
    const m = t.client(KEY_MANAGER);
    const self = await m.raw('POST', `/v1/keys/${key}/grants`, {
      grantee: arn(KEY_MANAGER),
      operations: ['Decrypt'],
    });
    expect(self.status).toBe(400);
    expect(self.body).toMatchObject({ error: 'SeparationOfDuties' });
    expect(
      (
        await m.raw('POST', `/v1/keys/${key}/grants`, {
          grantee: arn(KEY_MANAGER),
          operations: ['DescribeKey'],
        })
      ).status,
    ).toBe(200);
    expect((await m.raw('POST', '/v1/keys', { users: [arn(KEY_MANAGER)] })).body).toMatchObject({
      error: 'SeparationOfDuties',
    });

    // myGrantee may create grants (through KMS: the API offers no CreateGrant operation in grants).
    await t.kms(KEY_MANAGER).send(
      new CreateGrantCommand({
        KeyId: key,
        GranteePrincipal: arn(GRANTEE),
        Operations: ['Encrypt', 'CreateGrant'],
        Constraints: { EncryptionContextSubset: acme },
      }),
    );
    const g = t.client(GRANTEE);
    const wider = await g.raw('POST', `/v1/keys/${key}/grants`, {
      grantee: arn(OUTSIDER),
      operations: ['Decrypt'],
    });
    expect(wider.status).toBe(403);
    const unconstrained = await g.raw('POST', `/v1/keys/${key}/grants`, {
      grantee: arn(OUTSIDER),
      operations: ['Encrypt'],
    });
    expect(unconstrained.status).toBe(403);
    const narrower = await g.raw('POST', `/v1/keys/${key}/grants`, {
      grantee: arn(OUTSIDER),
      operations: ['Encrypt'],
      constraints: { encryptionContextSubset: { ...acme, region: 'eu' } },
    });
    expect(narrower.status).toBe(200);
  });

  it('aliases: create, move to another key (administrator of both), list, delete', async () => {
    const k1 = await newKey();
    const k2 = await newKey();
    const m = t.client(KEY_MANAGER);
    // Under the caller's own prefix, alias/myKeyManager/.
    const moving = `${KEY_MANAGER}/moving`;
    const path = `/v1/aliases/${encodeURIComponent(moving)}`;
    expect(await ok(m.raw('PUT', path, { keyId: k1 }))).toMatchObject({ created: true });
    expect(
      await ok(m.raw('PUT', `/v1/aliases/${encodeURIComponent(`alias/${moving}`)}`, { keyId: k2 })),
    ).toMatchObject({
      created: false,
    });
    const listed = await ok(m.raw('GET', '/v1/aliases', undefined, { keyId: k2 }));
    expect(listed.aliases).toEqual([{ name: `alias/${moving}`, keyId: expect.stringContaining(k2) }]);
    const other = await ok(t.client(OUTSIDER).raw('POST', '/v1/keys', {}));
    const foreign = (other.key as { keyId: string }).keyId;
    const moveAway = await m.raw('PUT', path, { keyId: foreign });
    expect(moveAway.status).toBe(403);
    // The key's administrator may not take the name either: it is myKeyManager's.
    const taken = await t.client(OUTSIDER).raw('PUT', path, { keyId: foreign });
    expect(taken.status).toBe(403);
    expect(taken.body).toMatchObject({ error: 'AccessDenied' });
    await ok(m.raw('DELETE', path));
    // Gone: refused as an alias of a key the caller may not manage (no existence oracle).
    expect((await m.raw('DELETE', path)).status).toBe(403);
  });
});
