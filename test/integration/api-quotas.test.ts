import { createHash } from 'node:crypto';
import { ListKeysCommand, ListResourceTagsCommand, TagResourceCommand } from '@aws-sdk/client-kms';
import { APP_SESSION, GRANTEE, KEY_MANAGER, KEY_USER, OUTSIDER, SERVICE } from '@eaas/aws-local';
import type { RawResponse } from '@eaas/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREATOR_TAG } from '../../src/services/keys.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * Finding 5 of issue 12, as an attacker would try it through the API: floods of keys, aliases and
 * jobs by one caller, and alias squatting. Small quotas; the re-encryption timer is off, so jobs
 * stay unfinished until a test runs a tick. The tests run in order, each caller's count carrying on.
 */

let t: TestStack;
const arn = (name: string) => t.principal(name).arn;

async function ok(res: Promise<RawResponse>): Promise<Record<string, unknown>> {
  const r = await res;
  if (r.status !== 200) throw new Error(`expected 200, got ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as Record<string, unknown>;
}

const keyIdOf = (body: Record<string, unknown>) => (body.key as { keyId: string }).keyId;
const path = (name: string) => `/v1/aliases/${encodeURIComponent(name)}`;

/** The keys KMS holds whose creator tag names `principal`, by state. */
async function keysCreatedBy(principal: string): Promise<string[]> {
  const kms = t.kms(SERVICE);
  const states: string[] = [];
  const { Keys } = await kms.send(new ListKeysCommand({ Limit: 1000 }));
  for (const k of Keys ?? []) {
    const { Tags } = await kms.send(new ListResourceTagsCommand({ KeyId: k.KeyId }));
    if (Tags?.some((tag) => tag.TagKey === CREATOR_TAG && tag.TagValue === principal))
      states.push(k.KeyId ?? '');
  }
  return states;
}

beforeAll(async () => {
  t = await startTestStack({
    env: {
      EAAS_QUOTA_KEYS_PER_CALLER: '3',
      EAAS_QUOTA_ALIASES_PER_CALLER: '2',
      EAAS_QUOTA_JOBS_PER_CALLER: '2',
      EAAS_REWRAP_TICK_SECONDS: '0',
    },
  });
});
afterAll(() => t.stop());

describe('alias names', () => {
  it('refuses myOutsider alias/payments-prod (squatting), creating or pointing, and makes no key for it', async () => {
    const outsider = t.client(OUTSIDER);
    const squat = await outsider.raw('POST', '/v1/keys', { alias: 'payments-prod' });
    expect(squat.status).toBe(403);
    expect(squat.body).toMatchObject({ error: 'AccessDenied' });
    expect((squat.body as { message: string }).message).toContain(`alias/${OUTSIDER}/`);
    expect(await keysCreatedBy(arn(OUTSIDER))).toEqual([]);
    // Inside its own prefix, it may.
    const mine = await ok(outsider.raw('POST', '/v1/keys', { alias: `${OUTSIDER}/payments-prod` }));
    expect(mine.alias).toBe(`alias/${OUTSIDER}/payments-prod`);
    const key = keyIdOf(mine);
    expect((await outsider.raw('PUT', path('payments-prod'), { keyId: key })).status).toBe(403);
    expect((await outsider.raw('PUT', path(`${KEY_USER}/payments-prod`), { keyId: key })).status).toBe(403);
    expect(
      await ok(outsider.raw('PUT', path(`alias/${OUTSIDER}/payments-v2`), { keyId: key })),
    ).toMatchObject({ created: true });
  });

  it('lets an alias operator give out a shared name, which no one else may point elsewhere', async () => {
    const manager = t.client(KEY_MANAGER);
    const shared = keyIdOf(await ok(manager.raw('POST', '/v1/keys', { alias: 'payments-prod' })));
    const outsiderKey = keyIdOf(await ok(t.client(OUTSIDER).raw('POST', '/v1/keys', {})));
    const hijack = await t.client(OUTSIDER).raw('PUT', path('payments-prod'), { keyId: outsiderKey });
    expect(hijack.status).toBe(403);
    const described = await ok(manager.raw('GET', `/v1/keys/${encodeURIComponent('alias/payments-prod')}`));
    expect((described.key as { keyId: string }).keyId).toBe(shared);
  });

  it('counts the aliases a caller creates: past the quota 429 LimitExceeded; deleting one frees its slot', async () => {
    const grantee = t.client(GRANTEE);
    const key = keyIdOf(await ok(grantee.raw('POST', '/v1/keys', { alias: `${GRANTEE}/a1` })));
    await ok(grantee.raw('PUT', path(`${GRANTEE}/a2`), { keyId: key }));
    const third = await grantee.raw('PUT', path(`${GRANTEE}/a3`), { keyId: key });
    expect(third.status).toBe(429);
    expect(third.body).toMatchObject({ error: 'LimitExceeded' });
    expect((third.body as { message: string }).message).toContain('EAAS_QUOTA_ALIASES_PER_CALLER=2');
    const listed = await ok(grantee.raw('GET', '/v1/aliases', undefined, { keyId: key }));
    expect((listed.aliases as { name: string }[]).map((a) => a.name).sort()).toEqual([
      `alias/${GRANTEE}/a1`,
      `alias/${GRANTEE}/a2`,
    ]);
    await ok(grantee.raw('DELETE', path(`${GRANTEE}/a1`)));
    await ok(grantee.raw('PUT', path(`${GRANTEE}/a3`), { keyId: key }));
  });
});

describe('keys', () => {
  let coAdministered: string;

  it('refuses myOutsider its fourth key with 429 LimitExceeded; another caller is unaffected', async () => {
    const outsider = t.client(OUTSIDER);
    // It made two keys above; a third, with myKeyManager as a second administrator.
    coAdministered = keyIdOf(
      await ok(outsider.raw('POST', '/v1/keys', { administrators: [arn(KEY_MANAGER)] })),
    );
    const refused = await outsider.raw('POST', '/v1/keys', { description: 'one too many' });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ error: 'LimitExceeded' });
    const message = (refused.body as { message: string }).message;
    expect(message).toContain('EAAS_QUOTA_KEYS_PER_CALLER=3');
    expect(message).toContain(arn(OUTSIDER));
    expect(await keysCreatedBy(arn(OUTSIDER))).toHaveLength(3);
    await ok(t.client(APP_SESSION).raw('POST', '/v1/keys', {}));
  });

  it('frees a slot when the key is scheduled for deletion, by any of its administrators', async () => {
    await ok(
      t
        .client(KEY_MANAGER)
        .raw('DELETE', `/v1/keys/${coAdministered}`, undefined, { pendingWindowInDays: '7' }),
    );
    const fourth = keyIdOf(await ok(t.client(OUTSIDER).raw('POST', '/v1/keys', { description: 'fourth' })));
    expect((await t.client(OUTSIDER).raw('POST', '/v1/keys', {})).status).toBe(429);
    // Cancelling would make four: refused, the key stays pending deletion.
    const back = await t.client(OUTSIDER).raw('POST', `/v1/keys/${coAdministered}/cancel-deletion`);
    expect(back.status).toBe(429);
    expect(back.body).toMatchObject({ error: 'LimitExceeded' });
    const still = await ok(t.client(OUTSIDER).raw('GET', `/v1/keys/${coAdministered}`));
    expect(still.key).toMatchObject({ state: 'PendingDeletion' });
    // With room again (another key scheduled), the cancel goes through and the key counts again.
    await ok(t.client(OUTSIDER).raw('DELETE', `/v1/keys/${fourth}`));
    await ok(t.client(OUTSIDER).raw('POST', `/v1/keys/${coAdministered}/cancel-deletion`));
    expect((await t.client(OUTSIDER).raw('POST', '/v1/keys', {})).status).toBe(429);
  });

  it('holds under concurrent creates: 10 at once with a quota of 3, exactly 3 keys made', async () => {
    const user = t.client(KEY_USER);
    const answers = await Promise.all(Array.from({ length: 10 }, () => user.raw('POST', '/v1/keys', {})));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 429, 429, 429, 429, 429, 429, 429]);
    expect(await keysCreatedBy(arn(KEY_USER))).toHaveLength(3);
  });

  it('keeps documents off the quota records: a caller cannot write over its own to start afresh', async () => {
    // myKeyUser, at its quota, may encrypt under alias/eaas-default: the object route would write
    // a document wherever it is told, its own quota record included (no object prefix here).
    const user = t.client(KEY_USER);
    const record = `quotas/${createHash('sha256').update(arn(KEY_USER)).digest('hex')}.json`;
    const body = Buffer.from('{}');
    const put = await user.rawBytes('PUT', `/v1/objects/${encodeURIComponent(record)}`, body, {
      keyId: 'alias/eaas-default',
    });
    expect(put.status).toBe(400);
    const upload = await user.raw('POST', '/v1/uploads', {
      key: record,
      keyId: 'alias/eaas-default',
      size: 2,
    });
    expect(upload.status).toBe(400);
    expect((await user.raw('POST', '/v1/keys', {})).status).toBe(429);
  });

  it('refuses tags that would pose as the service own', async () => {
    const forged = await t
      .client(APP_SESSION)
      .raw('POST', '/v1/keys', { tags: { [CREATOR_TAG]: arn(GRANTEE) } });
    expect(forged.status).toBe(400);
  });
});

describe('re-encryption jobs', () => {
  const start = (who: string, keyId: string) =>
    t.client(who).raw('POST', '/v1/jobs/re-encrypt', {
      destinationKeyId: keyId,
      olderThanRotation: true,
      prefix: 'quota-test/',
      dryRun: true,
    });

  it('refuses unfinished jobs past the quota with 429, also when started at once; a finished job frees its slot', async () => {
    const key = keyIdOf(await ok(t.client(GRANTEE).raw('POST', '/v1/keys', {})));
    const answers = await Promise.all(Array.from({ length: 5 }, () => start(GRANTEE, key)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 429, 429, 429]);
    const refused = answers.find((a) => a.status === 429);
    expect(refused?.body).toMatchObject({
      error: 'LimitExceeded',
      message: expect.stringContaining('EAAS_QUOTA_JOBS_PER_CALLER=2'),
    });
    // Another caller starts its own.
    const own = keyIdOf(await ok(t.client(APP_SESSION).raw('POST', '/v1/keys', {})));
    await ok(start(APP_SESSION, own));
    // Once they finish, the caller may start again.
    await t.stack.rewrapTick();
    for (const a of answers.filter((x) => x.status === 200)) {
      const view = await ok(t.client(GRANTEE).raw('GET', `/v1/jobs/${(a.body as { id: string }).id}`));
      expect(view.phase).toBe('succeeded');
    }
    await ok(start(GRANTEE, key));
  });
});

describe("a key's creator label, rewritten in KMS by an administrator", () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack({ env: { EAAS_QUOTA_KEYS_PER_CALLER: '3', EAAS_REWRAP_TICK_SECONDS: '0' } });
  });
  afterAll(() => s.stop());

  it("cannot fill another caller's key quota: scheduling and cancelling a relabelled key touch only its creator's record", async () => {
    const victim = s.principal(KEY_USER).arn;
    const outsider = s.client(OUTSIDER);
    for (let i = 0; i < 3; i++) {
      const made = await outsider.raw('POST', '/v1/keys', { description: `relabelled ${i}` });
      expect(made.status).toBe(200);
      const keyId = (made.body as { key: { keyId: string } }).key.keyId;
      // The administrator rewrites the creator tag straight in KMS (TagResource is an administrator's action).
      await s
        .kms(OUTSIDER)
        .send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: CREATOR_TAG, TagValue: victim }] }));
      const keyPath = `/v1/keys/${keyId}`;
      expect((await outsider.raw('DELETE', keyPath, undefined, { pendingWindowInDays: '7' })).status).toBe(
        200,
      );
      expect((await outsider.raw('POST', `${keyPath}/cancel-deletion`)).status).toBe(200);
    }
    // The victim created nothing: its quota is whole.
    for (let i = 0; i < 3; i++)
      expect((await s.client(KEY_USER).raw('POST', '/v1/keys', { description: `mine ${i}` })).status).toBe(
        200,
      );
    // The keys still count for the one who made them.
    expect((await outsider.raw('POST', '/v1/keys', {})).status).toBe(429);
  });
});
