import { PutKeyPolicyCommand } from '@aws-sdk/client-kms';
import { GRANTEE, KEY_MANAGER, KEY_USER, OUTSIDER, SERVICE } from '@eaas/aws-local';
import type { JobView } from '@eaas/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rolesKeyPolicy } from '../../src/core/key-policy.js';
import { visibleCounts } from '../../src/core/rewrap-view.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';
import { createJobKey, putDocument, unwrapKeyOf, workerFor } from './jobs-fixtures.js';

/**
 * Re-encryption jobs attacked as issue 12 describes, through the API over the local stack: a
 * grantee or a plain user of a shared key moving its documents to a key of its own (finding 1),
 * a starter whose rights change or are denied for some contexts (the per-object check), and a
 * job view naming or counting documents the viewer may not decrypt (finding 2(a); the counts of
 * dry runs over guessed prefixes as a name oracle). Counts are read from the stored record, the
 * operators' place for them.
 */

let t: TestStack;
let bucket: string;
let defaultKey: string;

const arn = (name: string) => `arn:aws:iam::${t.config.accountId}:user/${name}`;

const createKey = (as: string, users: string[], administrators: string[] = []) =>
  createJobKey(t, { administrators, users, description: 'jobs authz' }, as);
const put = (key: string, body: string, keyId: string, context: Record<string, string>) =>
  putDocument(t, key, Buffer.from(body), keyId, context);

const read = (as: string, key: string) =>
  t.client(as).rawBytes('GET', `/v1/objects/${encodeURIComponent(key)}`);

/** The counts of a job's record about objects under its keys (no view shows them). */
async function countsOf(id: string) {
  const found = await t.stack.rewrap.load(id);
  if (!found) throw new Error(`no job ${id}`);
  return visibleCounts(found.job);
}

const keyUnder = (key: string) => unwrapKeyOf(t.kms(KEY_USER), t.s3(SERVICE), bucket, key);

beforeAll(async () => {
  // Each function keeps its own authorization cache, as each Lambda does: a change made through
  // the keys function reaches the others within EAAS_AUTHZ_CACHE_SECONDS. These tests check each
  // decision at once, so they keep none.
  t = await startTestStack({ env: { EAAS_REWRAP_TICK_SECONDS: '0', EAAS_AUTHZ_CACHE_SECONDS: '0' } });
  bucket = t.config.vaultBucket;
  const who = await t.client(KEY_USER).raw('GET', '/v1/whoami', undefined, { keyId: 'alias/eaas-default' });
  defaultKey = (who.body as { key: { arn: string } }).key.arn;
});
afterAll(() => t.stop());

describe('finding 1: a job moves no document its starter may not move', () => {
  it('refuses a grantee of ReEncryptFrom (context {}) on the default key moving globex/ to its own key', async () => {
    await put('globex/contract.pdf', 'the globex contract', 'alias/eaas-default', { tenant: 'globex' });
    // An administrator of the default key gives myGrantee ReEncryptFrom, constrained to the empty context.
    const grant = await t.client(KEY_MANAGER).raw('POST', '/v1/keys/alias%2Feaas-default/grants', {
      grantee: arn(GRANTEE),
      operations: ['ReEncryptFrom'],
      constraints: { encryptionContextEquals: {} },
    });
    expect(grant.status, JSON.stringify(grant.body)).toBe(200);
    // myGrantee makes key D (so administers it), with myOutsider as its user.
    const d = await createKey(GRANTEE, [arn(OUTSIDER)]);
    for (const dryRun of [false, true]) {
      const res = await t.client(GRANTEE).raw('POST', '/v1/jobs/re-encrypt', {
        sourceKeyId: 'alias/eaas-default',
        destinationKeyId: d,
        prefix: 'globex/',
        dryRun,
      });
      // The old rule (administer D, may ReEncryptFrom the default key with no context) let it start.
      expect(res.status, JSON.stringify(res.body)).toBe(403);
      expect(res.body).toMatchObject({ error: 'AccessDenied' });
      expect((res.body as { message: string }).message).toContain('administer the key alias/eaas-default');
    }
    await t.stack.rewrapTick();

    // A record made under the old rule (one already stored, say) is refused object by object.
    const legacy = await t.stack.rewrap.create(
      {
        mode: 'source-key',
        sourceKeyArn: defaultKey,
        destinationKeyArn: d,
        prefix: 'globex/',
        dryRun: false,
        concurrency: 4,
      },
      arn(GRANTEE),
    );
    await t.stack.rewrapTick();
    const done = (await t.stack.rewrap.load(legacy.id))?.job;
    expect(done?.phase).toBe('succeeded');
    expect(done?.counts).toMatchObject({ rewrapped: 0, skipped: { 'not-authorized': 1 } });

    expect(await keyUnder('globex/contract.pdf')).toBe(defaultKey);
    const owner = await read(KEY_USER, 'globex/contract.pdf');
    expect(owner.status).toBe(200);
    expect(Buffer.from(owner.bytes).toString()).toBe('the globex contract');
    const outsider = await read(OUTSIDER, 'globex/contract.pdf');
    // A document the caller may not decrypt answers as a missing one.
    expect(outsider.status).toBe(404);
  });

  it('refuses a plain user of a shared key moving its documents to a key of its own', async () => {
    await put('shared/plan.txt', 'shared plan', 'alias/eaas-default', {});
    const mine = await createKey(KEY_USER, [arn(OUTSIDER)]);
    const res = await t.client(KEY_USER).raw('POST', '/v1/jobs/re-encrypt', {
      sourceKeyId: 'alias/eaas-default',
      destinationKeyId: mine,
      prefix: 'shared/',
    });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error: 'AccessDenied' });
    await t.stack.rewrapTick();
    expect(await keyUnder('shared/plan.txt')).toBe(defaultKey);
    expect((await read(OUTSIDER, 'shared/plan.txt')).status).toBe(404);
  });
});

describe('the per-object check of the starter', () => {
  /** myGrantee plays the operator: made an administrator of both keys (the README's recipe). */
  const OPERATOR = GRANTEE;
  let source: string;
  let destination: string;
  const plainPolicy = () =>
    rolesKeyPolicy({
      accountId: t.config.accountId,
      administrators: [arn(KEY_MANAGER), arn(OPERATOR)],
      users: [arn(KEY_USER)],
    });

  beforeAll(async () => {
    source = await createKey(KEY_MANAGER, [arn(KEY_USER)], [arn(OPERATOR)]);
    destination = await createKey(KEY_MANAGER, [arn(KEY_USER)], [arn(OPERATOR)]);
  });

  const start = (prefix: string, dryRun = false) =>
    t
      .client(OPERATOR)
      .startReEncryptJob({ sourceKeyId: source, destinationKeyId: destination, prefix, dryRun });

  it('skips every object once the starter no longer administers the source, though the start was allowed', async () => {
    await put('lost/1', 'one', source, { tenant: 'acme' });
    await put('lost/2', 'two', source, {});
    const job = await start('lost/');
    // Straight to KMS: the service's 30 s access cache is not told (its start decision is cached).
    await t.kms(KEY_MANAGER).send(
      new PutKeyPolicyCommand({
        KeyId: source,
        Policy: JSON.stringify(
          rolesKeyPolicy({
            accountId: t.config.accountId,
            administrators: [arn(KEY_MANAGER)],
            users: [arn(KEY_USER)],
          }),
        ),
      }),
    );
    try {
      await t.stack.rewrapTick();
      // Nor may it see the job now: it administers only one of its keys.
      const view = await t.client(OPERATOR).raw('GET', `/v1/jobs/${job.id}`);
      expect(view.status).toBe(403);
      expect(JSON.stringify(view.body)).not.toContain(source);
    } finally {
      await t
        .client(KEY_MANAGER)
        .raw('PUT', `/v1/keys/${encodeURIComponent(source)}/policy`, { policy: plainPolicy() });
    }
    const view = await t.client(OPERATOR).getJob(job.id);
    expect(view.state).toBe('succeeded');
    expect(await countsOf(job.id)).toEqual({
      rewrapped: 0,
      alreadyCurrent: 0,
      skipped: { 'not-authorized': 2 },
      failed: {},
    });
    for (const key of ['lost/1', 'lost/2']) {
      expect(await keyUnder(key), key).toBe(source);
      expect((await read(KEY_USER, key)).status, key).toBe(200);
    }
  });

  const denials = [
    { on: 'source', action: 'kms:ReEncrypt*' },
    { on: 'source', action: 'kms:*' },
    { on: 'destination', action: 'kms:ReEncryptTo' },
  ] as const;
  for (const [i, { on, action }] of denials.entries()) {
    it(`skips the objects a ${on} key policy Deny of ${action} for tenant=secret names, dry run included`, async () => {
      const prefix = `ctx${i}/`;
      await put(`${prefix}acme`, 'acme', source, { tenant: 'acme', project: 'x' });
      await put(`${prefix}secret`, 'secret', source, { tenant: 'secret', project: 'x' });
      const denied = on === 'source' ? source : destination;
      const policy = plainPolicy();
      policy.Statement.push({
        Sid: 'NoSecretMoves',
        Effect: 'Deny',
        Principal: { AWS: [arn(OPERATOR)] },
        Action: [action],
        Resource: '*',
        Condition: { StringEquals: { 'kms:EncryptionContext:tenant': 'secret' } },
      });
      const set = await t
        .client(KEY_MANAGER)
        .raw('PUT', `/v1/keys/${encodeURIComponent(denied)}/policy`, { policy });
      expect(set.status, JSON.stringify(set.body)).toBe(200);
      try {
        const dry = await start(prefix, true);
        await t.stack.rewrapTick();
        expect((await t.client(OPERATOR).getJob(dry.id)).state).toBe('succeeded');
        expect(await countsOf(dry.id)).toEqual({
          rewrapped: 1,
          alreadyCurrent: 0,
          skipped: { 'not-authorized': 1 },
          failed: {},
        });
        const real = await start(prefix);
        await t.stack.rewrapTick();
        const view = await t.client(OPERATOR).getJob(real.id);
        expect(view.state).toBe('succeeded');
        expect(await countsOf(real.id)).toMatchObject({ rewrapped: 1, skipped: { 'not-authorized': 1 } });
      } finally {
        await t
          .client(KEY_MANAGER)
          .raw('PUT', `/v1/keys/${encodeURIComponent(denied)}/policy`, { policy: plainPolicy() });
      }
      expect(await keyUnder(`${prefix}acme`)).toBe(destination);
      expect(await keyUnder(`${prefix}secret`)).toBe(source);
      for (const key of [`${prefix}acme`, `${prefix}secret`])
        expect((await read(KEY_USER, key)).status, key).toBe(200);
    });
  }
});

describe('finding 2(a): a job view names and counts no document the viewer may not decrypt', () => {
  const SECRET_NAME = 'hr/2027-layoffs-plan.docx';

  /** Every way the view could give the document away. */
  function expectNothingOf(view: unknown) {
    const text = JSON.stringify(view);
    expect(text).not.toContain('layoffs');
    expect(text).not.toContain('hr/2');
    expect(view).not.toHaveProperty('total');
    expect(view).not.toHaveProperty('percent');
    expect(view).not.toHaveProperty('cursor');
    expect(view).not.toHaveProperty('counts.scanned');
    expect(view).not.toHaveProperty('report.failures');
    expect(view).not.toHaveProperty('counts');
    expect(view).not.toHaveProperty('deferred');
    expect((view as JobView).report?.summary ?? '').not.toMatch(/\d/);
  }

  it('any caller making a key and a dry run over hr/ learns nothing of what hr/ holds', async () => {
    await put(SECRET_NAME, 'the plan', 'alias/eaas-default', { tenant: 'hr' });
    const k = await createKey(OUTSIDER, []);
    const c = t.client(OUTSIDER);
    const started = await c.startReEncryptJob({
      olderThanRotation: true,
      destinationKeyId: k,
      prefix: 'hr/',
      dryRun: true,
    });
    expectNothingOf(started);

    // One page, then stopped: the counting page has counted the document (the old view showed
    // that total; once finished, the cursor naming it).
    let pages = 0;
    const worker = workerFor(t, {
      log: (message) => {
        if (message === 're-encryption job page') pages++;
      },
    });
    await worker.run(started.id, () => pages >= 1);
    const record = (await worker.load(started.id))?.job;
    expect(record?.total).toBe(1);
    expectNothingOf(await c.getJob(started.id));

    await t.stack.rewrapTick();
    const done = await c.getJob(started.id);
    expect(done.state).toBe('succeeded');
    expectNothingOf(done);
    expect(await countsOf(started.id)).toEqual({ rewrapped: 0, alreadyCurrent: 0, skipped: {}, failed: {} });
    // The record keeps its names and counts for operators.
    const kept = (await worker.load(started.id))?.job;
    expect(kept?.counts.skipped).toEqual({ 'other-key': 1 });
    expect(kept?.cursor).toBe(SECRET_NAME);
  });

  it("an administrator's dry runs over guessed prefixes are the same view whether a document is there or not", async () => {
    // myKeyUser stores the document under the default key; myKeyManager administers that key and
    // may not decrypt it. The old view counted it (alreadyCurrent 1 against 0, and the report's
    // sentence), so prefixes guessed one character at a time recovered its name.
    await put(SECRET_NAME, 'the plan', 'alias/eaas-default', { tenant: 'hr' });
    expect((await read(KEY_MANAGER, SECRET_NAME)).status).toBe(404);
    const c = t.client(KEY_MANAGER);
    const guess = (prefix: string) =>
      c.startReEncryptJob({
        olderThanRotation: true,
        destinationKeyId: 'alias/eaas-default',
        prefix,
        dryRun: true,
      });
    const hit = await guess(SECRET_NAME);
    const miss = await guess('hr/3');
    await t.stack.rewrapTick();
    const views = [await c.getJob(hit.id), await c.getJob(miss.id)];
    // Both ran over their prefix: the record of the hit counted the document, the miss's nothing.
    const counted = async (id: string) => {
      const n = await countsOf(id);
      return n.rewrapped + n.alreadyCurrent + (n.skipped['not-authorized'] ?? 0);
    };
    expect(await counted(hit.id)).toBe(1);
    expect(await counted(miss.id)).toBe(0);
    for (const view of views) {
      expect(view.state).toBe('succeeded');
      expect(view).not.toHaveProperty('counts');
      expect(view).not.toHaveProperty('deferred');
      expect(view).not.toHaveProperty('total');
    }
    // Identical but for what the caller chose, its request's time, or the request's own id: no
    // time the scan sets (started, updated, finished) is shown, since pages take time per object.
    for (const view of views)
      for (const field of ['startedAt', 'updatedAt', 'finishedAt']) expect(view).not.toHaveProperty(field);
    const same = (view: JobView) => {
      const { id, prefix, createdAt, ...rest } = view as JobView & {
        requestId?: string;
      };
      delete rest.requestId;
      return rest;
    };
    expect(same(views[0] as JobView)).toEqual(same(views[1] as JobView));
    expect(Object.keys(views[0] as JobView).sort()).toEqual(Object.keys(views[1] as JobView).sort());
    expect(JSON.stringify(same(views[0] as JobView))).not.toContain('layoffs');
  });

  it('shows a job only to an administrator of its keys, with a refusal naming no key', async () => {
    const k = await createKey(OUTSIDER, []);
    const started = await t.client(OUTSIDER).startReEncryptJob({
      olderThanRotation: true,
      destinationKeyId: k,
      prefix: 'nothing/',
      dryRun: true,
    });
    for (const who of [KEY_USER, GRANTEE]) {
      const res = await t.client(who).raw('GET', `/v1/jobs/${started.id}`);
      expect(res.status, who).toBe(403);
      expect(res.body).toMatchObject({ error: 'AccessDenied' });
      expect(JSON.stringify(res.body)).not.toContain(k);
    }
  });
});
