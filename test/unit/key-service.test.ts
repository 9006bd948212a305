import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/core/errors.js';
import { rolesKeyPolicy } from '../../src/core/key-policy.js';
import type { AuditDecision } from '../../src/ports.js';
import { AccessControl } from '../../src/services/access.js';
import { KeyService } from '../../src/services/keys.js';
import { QuotaLedger } from '../../src/services/quotas.js';
import { ACCOUNT, MemoryKms } from '../fakes/kms.js';
import { MemoryQuotaStore } from '../helpers/memory-quota-store.js';

/**
 * Key administration against an in-memory KMS: who may do what to a key, separation of duties,
 * alias naming, quotas, and what refusals say. The same rules run against the local KMS in
 * test/integration/api-keys.test.ts and separation-of-duties.test.ts.
 */

const user = (name: string) => `arn:aws:iam::${ACCOUNT}:user/${name}`;
const ALICE = user('alice');
const BOB = user('bob');
const EVE = user('eve');
const OPS = user('ops');

function setup(quotas?: { keys: number; aliases: number; jobs: number }) {
  const kms = new MemoryKms();
  const access = new AccessControl(kms, { ttlMs: 0 });
  const ledger = quotas ? new QuotaLedger(new MemoryQuotaStore(), quotas) : undefined;
  const keys = new KeyService(kms, access, ACCOUNT, { quotas: ledger, aliasOperators: [OPS] });
  return { kms, access, keys };
}

/** A requester whose decisions the test reads. */
function as(arn: string) {
  const decisions: AuditDecision[] = [];
  return { caller: { arn }, record: (d: AuditDecision) => decisions.push(d), decisions };
}

const refusal = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (error) {
    return error as Error & { code: string };
  }
  throw new Error('expected a refusal');
};

describe('KeyService: a new key while its tags reach authorization', () => {
  it('retries a refused rotation or alias on the key it just created, a few times, only when it tags keys', async () => {
    const kms = new MemoryKms();
    const access = new AccessControl(kms, { ttlMs: 0 });
    const tagged = new KeyService(kms, access, ACCOUNT, {
      serviceTag: 'eaas-dev',
      aliasOperators: [OPS],
      tagPropagationDelaysMs: [1, 1],
    });
    const denied = () => new DomainError('AccessDenied', 'not yet');
    kms.fail('enableRotation', denied());
    kms.fail('createAlias', denied());
    const out = await tagged.create(as(OPS), { users: [BOB], alias: 'alias/shared' });
    expect(out.alias).toBe('alias/shared');
    expect(kms.calls.enableRotation).toBe(2);
    expect(kms.calls.createAlias).toBe(2);
    // Without the reserved tag there is nothing to wait for: the refusal stands.
    const plain = new KeyService(kms, access, ACCOUNT, { tagPropagationDelaysMs: [1, 1] });
    kms.fail('enableRotation', denied());
    expect(await refusal(plain.create(as(ALICE), { users: [BOB] }))).toMatchObject({ code: 'AccessDenied' });
    expect(kms.calls.enableRotation).toBe(3);
  });
});

describe('KeyService: creating keys', () => {
  it('makes the caller an administrator, writes the roles policy, turns rotation on and names the alias', async () => {
    const { kms, keys } = setup();
    const alice = as(ALICE);
    const out = await keys.create(alice, { users: [BOB], alias: 'alias/alice/app' });
    expect(out).toMatchObject({ administrators: [ALICE], users: [BOB], alias: 'alias/alice/app' });
    expect(out.rotation).toEqual({ enabled: true, periodInDays: 365 });
    expect(JSON.parse(await kms.keyPolicy(out.key.arn))).toEqual(
      rolesKeyPolicy({ accountId: ACCOUNT, administrators: [ALICE], users: [BOB] }),
    );
    expect((await kms.describeKey('alias/alice/app')).arn).toBe(out.key.arn);
    expect(alice.decisions).toEqual([
      { action: 'kms:CreateKey', keyArn: out.key.arn, allowed: true, reason: 'any-caller' },
    ]);
  });

  it('refuses one principal as administrator and user, the service-owned tags, and alias names the caller may not claim', async () => {
    const { kms, keys } = setup();
    expect(await refusal(keys.create(as(ALICE), { users: [ALICE] }))).toMatchObject({
      code: 'SeparationOfDuties',
    });
    const tag = await refusal(keys.create(as(ALICE), { tags: { 'EAAS:created-by': 'x' } }));
    expect(tag).toMatchObject({ code: 'ValidationError', name: 'ValidationError' });
    expect(await refusal(keys.create(as(ALICE), { alias: 'payments-prod' }))).toMatchObject({
      code: 'AccessDenied',
      message: expect.stringContaining('alias/alice/'),
    });
    await keys.create(as(OPS), { alias: 'payments-prod' });
    expect(await refusal(keys.create(as(OPS), { alias: 'payments-prod' }))).toMatchObject({
      code: 'AlreadyExists',
    });
    expect(kms.calls.createKey).toBe(1);
  });

  it('counts keys and aliases in the creator quota, and a half-made key is scheduled for deletion with its slots given back', async () => {
    const { kms, keys } = setup({ keys: 1, aliases: 1, jobs: 1 });
    kms.fail('createAlias', new Error('the alias was taken meanwhile'));
    await refusal(keys.create(as(ALICE), { alias: 'alice/a' }));
    const [halfMade] = [...kms.keys.values()];
    expect(halfMade?.details.state).toBe('PendingDeletion');
    // The key pending deletion and the alias no longer count: alice may create both again.
    const made = await keys.create(as(ALICE), { alias: 'alice/a' });
    expect(await refusal(keys.create(as(ALICE), {}))).toMatchObject({ code: 'LimitExceeded' });
    // Keys pending deletion still count, up to twice the quota, until KMS deletes them.
    await keys.scheduleDeletion(as(ALICE), made.key.arn, 7);
    expect(await refusal(keys.create(as(ALICE), {}))).toMatchObject({
      code: 'LimitExceeded',
      message: expect.stringContaining('pending deletion'),
    });
  });
});

describe('KeyService: refusals', () => {
  it('answers a key that does not exist as one the caller may not use, recording the refusal', async () => {
    const { keys } = setup();
    const missing = 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000';
    for (const call of [
      (r: ReturnType<typeof as>) => keys.describe(r, missing),
      (r: ReturnType<typeof as>) => keys.putPolicy(r, missing, { administrators: [ALICE] }),
      (r: ReturnType<typeof as>) => keys.createGrant(r, missing, { grantee: BOB, operations: ['Decrypt'] }),
      (r: ReturnType<typeof as>) => keys.listAliases(r, missing, 10),
    ]) {
      const alice = as(ALICE);
      const error = await refusal(call(alice));
      expect(error).toMatchObject({ code: 'AccessDenied', name: 'AccessDeniedError' });
      expect(error.message).toContain(missing);
      expect(alice.decisions).toEqual([
        expect.objectContaining({ keyArn: missing, allowed: false, reason: 'implicit-deny' }),
      ]);
    }
  });

  it('hints alias/x for a key id spelt without alias/, the same whether or not the alias exists', async () => {
    const { keys } = setup();
    const before = await refusal(keys.describe(as(EVE), 'alice/app'));
    await keys.create(as(ALICE), { alias: 'alice/app' });
    const after = await refusal(keys.describe(as(EVE), 'alice/app'));
    expect(before).toMatchObject({
      code: 'AccessDenied',
      message: expect.stringContaining('Did you mean alias/alice/app?'),
    });
    expect(after.message).toBe(before.message);
    // A key id, an ARN or an alias name gets no hint.
    const named = await refusal(keys.describe(as(EVE), 'alias/alice/app'));
    expect(named.message).not.toContain('Did you mean');
  });

  it('whoami explains a key only to who may see it; a missing key gets the same refusal', async () => {
    const { keys } = setup();
    const { key } = await keys.create(as(ALICE), { users: [BOB], alias: 'alice/app' });
    const explained = await keys.explain(as(BOB), 'alias/alice/app', ['kms:Encrypt', 'kms:PutKeyPolicy']);
    expect(explained.results.map((x) => [x.action, x.decision.allowed])).toEqual([
      ['kms:Encrypt', true],
      ['kms:PutKeyPolicy', false],
    ]);
    const hidden = await refusal(keys.explain(as(EVE), 'alias/alice/app', ['kms:Encrypt']));
    const missing = await refusal(keys.explain(as(EVE), 'alias/alice/none', ['kms:Encrypt']));
    expect(hidden.code).toBe('AccessDenied');
    expect(missing.message.replace('none', 'app')).toBe(hidden.message);
    expect(hidden.message).not.toContain(key.arn);
    expect((await refusal(keys.explain(as(EVE), 'alice/app', []))).message).toContain(
      'did you mean alias/alice/app?',
    );
  });
});

describe('KeyService: policies', () => {
  it('shows tags to administrators only', async () => {
    const { keys } = setup();
    const { key } = await keys.create(as(ALICE), { users: [BOB], tags: { team: 'pay' } });
    expect((await keys.describe(as(ALICE), key.arn)).key.tags).toEqual({ team: 'pay' });
    expect((await keys.describe(as(BOB), key.arn)).key).not.toHaveProperty('tags');
  });

  it('refuses a policy that locks the caller out, lets an administrator use the key, or mixes the two forms', async () => {
    const { keys } = setup();
    const { key } = await keys.create(as(ALICE), {});
    expect(await refusal(keys.putPolicy(as(ALICE), key.arn, { administrators: [BOB] }))).toMatchObject({
      code: 'PolicyLockout',
    });
    const both = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: ALICE }, Action: 'kms:*', Resource: '*' }],
    };
    expect(await refusal(keys.putPolicy(as(ALICE), key.arn, { policy: both }))).toMatchObject({
      code: 'SeparationOfDuties',
      message: expect.stringContaining(ALICE),
    });
    expect(
      await refusal(keys.putPolicy(as(ALICE), key.arn, { policy: both, administrators: [ALICE] })),
    ).toMatchObject({ code: 'ValidationError' });
    const put = await keys.putPolicy(as(ALICE), key.arn, { administrators: [ALICE], users: [BOB] });
    expect(put).toMatchObject({ administrators: [ALICE], users: [BOB], managed: true });
  });
});

describe('KeyService: grants', () => {
  it('never grants cryptographic operations to who may manage the key; a grant is listed and revoked', async () => {
    const { keys } = setup();
    const { key } = await keys.create(as(ALICE), { administrators: [OPS] });
    expect(
      await refusal(keys.createGrant(as(ALICE), key.arn, { grantee: OPS, operations: ['Decrypt'] })),
    ).toMatchObject({ code: 'SeparationOfDuties' });
    const made = await keys.createGrant(as(ALICE), key.arn, {
      grantee: BOB,
      operations: ['Decrypt', 'Decrypt'],
      constraints: { encryptionContextSubset: { tenant: 'acme' } },
    });
    const listed = await keys.listGrants(as(ALICE), key.arn, 10);
    expect(listed.grants).toEqual([
      expect.objectContaining({
        grantId: made.grantId,
        grantee: BOB,
        operations: ['Decrypt'],
        constraints: { encryptionContextSubset: { tenant: 'acme' } },
      }),
    ]);
    await keys.revokeGrant(as(ALICE), key.arn, made.grantId);
    expect((await keys.listGrants(as(ALICE), key.arn, 10)).grants).toEqual([]);
  });

  it('under a grant of CreateGrant, hands on only a narrower grant', async () => {
    const { keys } = setup();
    const { key } = await keys.create(as(ALICE), {});
    await keys.createGrant(as(ALICE), key.arn, { grantee: BOB, operations: ['Encrypt', 'CreateGrant'] });
    expect(
      await refusal(keys.createGrant(as(BOB), key.arn, { grantee: EVE, operations: ['Decrypt'] })),
    ).toMatchObject({ code: 'AccessDenied', message: expect.stringContaining('fewer operations') });
    await keys.createGrant(as(BOB), key.arn, { grantee: EVE, operations: ['Encrypt'] });
  });

  it('refuses a constraint holding keys that differ only in case (constraint keys are not case-sensitive)', async () => {
    const { keys } = setup();
    const { key } = await keys.create(as(ALICE), {});
    for (const constraints of [
      { encryptionContextEquals: { tenant: 'acme', Tenant: 'acme' } },
      { encryptionContextSubset: { tenant: 'acme', TENANT: 'globex' } },
    ])
      expect(
        await refusal(
          keys.createGrant(as(ALICE), key.arn, { grantee: BOB, operations: ['Decrypt'], constraints }),
        ),
      ).toMatchObject({ code: 'ValidationError', message: expect.stringContaining('differ only in case') });
    expect((await keys.listGrants(as(ALICE), key.arn, 10)).grants).toEqual([]);
  });
});

describe('KeyService: aliases', () => {
  it("refuses in the alias's name, never naming the key it points at", async () => {
    const { keys } = setup();
    const theirs = await keys.create(as(OPS), { alias: 'shared' });
    const mine = await keys.create(as(ALICE), {});
    const error = await refusal(keys.putAlias(as(OPS), 'shared', mine.key.arn));
    expect(error.code).toBe('AccessDenied');
    const moved = await refusal(keys.putAlias(as(ALICE), 'alias/alice/x', theirs.key.arn));
    expect(moved.code).toBe('AccessDenied');
    // alice may not claim ops' alias, nor delete it: the refusal names the alias only.
    const deleted = await refusal(keys.deleteAlias(as(ALICE), 'shared'));
    expect(deleted.message).toContain('alias/shared');
    expect(deleted.message).not.toContain(theirs.key.arn);
    expect(await refusal(keys.deleteAlias(as(ALICE), 'alias/alice/none'))).toMatchObject({
      code: 'AccessDenied',
    });
  });

  it('moves and deletes an alias for who administers both keys, and lists only the aliases of keys the caller may see', async () => {
    const { keys } = setup();
    const a = await keys.create(as(ALICE), { alias: 'alice/current' });
    const b = await keys.create(as(ALICE), {});
    await keys.create(as(BOB), { alias: 'bob/other' });
    expect(await keys.putAlias(as(ALICE), 'alice/current', b.key.arn)).toEqual({
      alias: 'alias/alice/current',
      keyId: b.key.arn,
      created: false,
    });
    expect((await keys.listAliases(as(ALICE), undefined, 10)).aliases).toEqual([
      { name: 'alias/alice/current', keyId: b.key.arn },
    ]);
    expect((await keys.listAliases(as(ALICE), a.key.arn, 10)).aliases).toEqual([]);
    expect(await keys.deleteAlias(as(ALICE), 'alias/alice/current')).toMatchObject({ deleted: true });
  });
});

describe('KeyService: listing and lifecycle', () => {
  it('lists the keys the caller administers or uses, with its role', async () => {
    const { keys } = setup();
    const mine = await keys.create(as(ALICE), { users: [BOB] });
    await keys.create(as(EVE), {});
    const bobs = await keys.list(as(BOB), 10);
    expect(bobs.keys).toEqual([
      expect.objectContaining({ arn: mine.key.arn, access: { administer: false, use: true } }),
    ]);
  });

  it('refuses a deletion window outside 7-30 days before asking KMS, and cancels a deletion', async () => {
    const { kms, keys } = setup();
    const { key } = await keys.create(as(ALICE), {});
    expect(await refusal(keys.scheduleDeletion(as(ALICE), key.arn, 6))).toMatchObject({
      code: 'ValidationError',
    });
    expect(kms.calls.scheduleDeletion).toBeUndefined();
    expect((await keys.scheduleDeletion(as(ALICE), key.arn, 7)).key.state).toBe('PendingDeletion');
    expect((await keys.cancelDeletion(as(ALICE), key.arn)).key.state).toBe('Disabled');
    expect((await keys.enable(as(ALICE), key.arn)).key.state).toBe('Enabled');
  });

  it('rotates on demand and lists rotations for the administrator', async () => {
    const { keys } = setup();
    const { key } = await keys.create(as(ALICE), { users: [BOB], rotation: { enabled: false } });
    expect(await keys.rotation(as(ALICE), key.arn)).toEqual({ keyId: key.arn, enabled: false });
    await keys.putRotation(as(ALICE), key.arn, { enabled: true, periodInDays: 90 });
    expect(await keys.rotation(as(ALICE), key.arn)).toMatchObject({ enabled: true, periodInDays: 90 });
    await keys.rotate(as(ALICE), key.arn);
    expect((await keys.rotations(as(ALICE), key.arn, 10)).rotations).toEqual([
      expect.objectContaining({ current: true, rotationType: 'ON_DEMAND' }),
    ]);
    expect(await refusal(keys.rotate(as(BOB), key.arn))).toMatchObject({ code: 'AccessDenied' });
  });
});
