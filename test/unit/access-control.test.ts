import { describe, expect, it } from 'vitest';
import { KeyNotFoundError } from '../../src/core/errors.js';
import { rolesKeyPolicy } from '../../src/core/key-policy.js';
import type { AccessSource, GrantInfo } from '../../src/ports.js';
import { AccessControl } from '../../src/services/access.js';

const ACCOUNT = '111122223333';
const KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const USER = `arn:aws:iam::${ACCOUNT}:user/alice`;
const BOB = `arn:aws:iam::${ACCOUNT}:user/bob`;

/** A source that counts its calls and whose policy and grants the test changes. */
function fakeSource() {
  const state = {
    policy: JSON.stringify(rolesKeyPolicy({ accountId: ACCOUNT, administrators: [], users: [USER] })),
    grants: [] as GrantInfo[],
    calls: { describe: 0, policy: 0, grants: 0 },
  };
  const source: AccessSource = {
    async describe() {
      state.calls.describe++;
      return { arn: KEY, keyId: KEY, state: 'Enabled', description: '' };
    },
    async keyPolicy() {
      state.calls.policy++;
      return state.policy;
    },
    async grantsFor(_key, grantee) {
      state.calls.grants++;
      return state.grants.filter((g) => g.granteePrincipal === grantee);
    },
  };
  return { state, source };
}

describe('AccessControl', () => {
  it('caches policy, grants and key names for the TTL, then reads them again', async () => {
    const { state, source } = fakeSource();
    let now = 0;
    const access = new AccessControl(source, { ttlMs: 30_000, now: () => now });
    for (let i = 0; i < 5; i++)
      expect(
        (await access.decide({ arn: USER }, { keyId: 'alias/x', action: 'kms:Encrypt' })).decision.allowed,
      ).toBe(true);
    expect(state.calls).toEqual({ describe: 1, policy: 1, grants: 1 });
    state.policy = JSON.stringify(rolesKeyPolicy({ accountId: ACCOUNT, administrators: [], users: [BOB] }));
    now = 29_999;
    expect(
      (await access.decide({ arn: USER }, { keyId: 'alias/x', action: 'kms:Encrypt' })).decision.allowed,
    ).toBe(true);
    now = 30_001;
    expect(
      (await access.decide({ arn: USER }, { keyId: 'alias/x', action: 'kms:Encrypt' })).decision.allowed,
    ).toBe(false);
    expect(state.calls.policy).toBe(2);
  });

  it('grant tokens skip the grants cache; invalidate forgets a key at once', async () => {
    const { state, source } = fakeSource();
    const access = new AccessControl(source, { ttlMs: 60_000 });
    const req = { keyId: KEY, action: 'kms:Decrypt' };
    expect((await access.decide({ arn: BOB }, req)).decision.allowed).toBe(false);
    state.grants.push({ grantId: 'g1', keyArn: KEY, granteePrincipal: BOB, operations: ['Decrypt'] });
    expect((await access.decide({ arn: BOB }, req)).decision.allowed).toBe(false);
    const fresh = await access.decide({ arn: BOB }, { ...req, grantTokens: ['token'] });
    expect(fresh.decision).toEqual({ allowed: true, reason: 'grant', grantId: 'g1' });
    // Tokens cannot make every request read the grants: at most once a second per caller and key.
    const calls = state.calls.grants;
    for (let i = 0; i < 10; i++)
      await access.decide({ arn: BOB }, { ...req, action: 'kms:Encrypt', grantTokens: ['x'] });
    expect(state.calls.grants - calls).toBeLessThanOrEqual(1);
    state.grants.length = 0;
    expect((await access.decide({ arn: BOB }, req)).decision.allowed).toBe(true);
    access.invalidate(KEY);
    expect((await access.decide({ arn: BOB }, req)).decision.allowed).toBe(false);
  });

  it('a TTL of 0 reads the policy and grants on every decision', async () => {
    const { state, source } = fakeSource();
    const access = new AccessControl(source, { ttlMs: 0 });
    for (let i = 0; i < 3; i++) await access.decide({ arn: USER }, { keyId: KEY, action: 'kms:Encrypt' });
    expect(state.calls.policy).toBe(3);
    expect(state.calls.grants).toBe(3);
  });

  it('require throws AccessDenied and records the decision either way', async () => {
    const { source } = fakeSource();
    const access = new AccessControl(source);
    const seen: unknown[] = [];
    await expect(
      access.require({ arn: USER }, { keyId: KEY, action: 'kms:Encrypt' }, { record: (d) => seen.push(d) }),
    ).resolves.toMatchObject({ keyArn: KEY, decision: { allowed: true } });
    await expect(
      access.require({ arn: BOB }, { keyId: KEY, action: 'kms:Encrypt' }, { record: (d) => seen.push(d) }),
    ).rejects.toMatchObject({ code: 'AccessDenied', name: 'AccessDeniedError' });
    expect(seen).toEqual([
      { action: 'kms:Encrypt', keyArn: KEY, allowed: true, reason: 'key-policy', by: 'Allow use of the key' },
      { action: 'kms:Encrypt', keyArn: KEY, allowed: false, reason: 'implicit-deny' },
    ]);
  });

  it('require names the key as asked, and refuses a key that does not exist as one the caller may not use', async () => {
    const { source } = fakeSource();
    const access = new AccessControl(source);
    const named = access.require(
      { arn: BOB },
      { keyId: KEY, action: 'kms:Encrypt' },
      { nameKeyAs: 'alias/payments' },
    );
    await expect(named).rejects.toMatchObject({
      code: 'AccessDenied',
      message: expect.stringContaining('on alias/payments:'),
    });
    await expect(named.catch((e: Error) => e.message)).resolves.not.toContain(KEY);
    source.describe = async (keyId) => {
      throw new KeyNotFoundError(keyId);
    };
    const seen: unknown[] = [];
    await expect(
      access.require(
        { arn: USER },
        { keyId: 'payments', action: 'kms:Encrypt' },
        { record: (d) => seen.push(d) },
      ),
    ).rejects.toMatchObject({
      code: 'AccessDenied',
      message: expect.stringContaining('Did you mean alias/payments?'),
    });
    expect(seen).toEqual([
      { action: 'kms:Encrypt', keyArn: 'payments', allowed: false, reason: 'implicit-deny' },
    ]);
  });

  it('an account-root statement never allows through the API: IAM policies are not visible here', async () => {
    const { state, source } = fakeSource();
    state.policy = JSON.stringify(rolesKeyPolicy({ accountId: ACCOUNT, administrators: [], users: [] }));
    const access = new AccessControl(source);
    expect((await access.decide({ arn: USER }, { keyId: KEY, action: 'kms:Encrypt' })).decision.allowed).toBe(
      false,
    );
  });
});
