import { GRANTEE, KEY_MANAGER, OUTSIDER } from '@eaas/aws-local';
import { EaasError } from '@eaas/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * GET /v1/jobs through the typed client: a caller's own re-encryption jobs, newest first, in
 * pages whose nextToken is bound to the caller; never another caller's job, nor a count of them.
 */

let t: TestStack;
const arn = (name: string) => `arn:aws:iam::${t.config.accountId}:user/${name}`;
const mine: string[] = [];
let theirs: string;
let destination: string;

beforeAll(async () => {
  t = await startTestStack();
  const manager = t.client(KEY_MANAGER);
  // Both administer the key: each may start jobs on it, and view each other's by id.
  const created = await manager.keys.create({ administrators: [arn(GRANTEE)] });
  destination = created.key.arn;
  for (let i = 0; i < 3; i++) {
    const job = await manager.jobs.startReEncrypt({
      olderThanRotation: true,
      destinationKeyId: destination,
      dryRun: true,
    });
    mine.unshift(job.id);
    // Distinct creation times (milliseconds) make the order certain.
    await new Promise((r) => setTimeout(r, 5));
  }
  theirs = (
    await t
      .client(GRANTEE)
      .jobs.startReEncrypt({ olderThanRotation: true, destinationKeyId: destination, dryRun: true })
  ).id;
});
afterAll(() => t.stop());

describe('GET /v1/jobs', () => {
  it("lists the caller's own jobs, newest first, and no one else's", async () => {
    const page = await t.client(KEY_MANAGER).jobs.list();
    expect(page.jobs.map((j) => j.id)).toEqual(mine);
    expect(page.nextToken).toBeUndefined();
    for (const job of page.jobs)
      expect(job).toMatchObject({ createdBy: arn(KEY_MANAGER), destinationKeyId: destination });
    expect((await t.client(GRANTEE).jobs.list()).jobs.map((j) => j.id)).toEqual([theirs]);
    // A caller with no job sees an empty page, and no count of anyone's.
    const none = await t.client(OUTSIDER).raw('GET', '/v1/jobs');
    expect(none.status).toBe(200);
    expect(Object.keys(none.body as object).sort()).toEqual(['jobs', 'requestId']);
    expect((none.body as { jobs: unknown[] }).jobs).toEqual([]);
  });

  it('pages with limit and an opaque nextToken that only its caller may follow', async () => {
    const manager = t.client(KEY_MANAGER);
    const seen: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await manager.jobs.list({ limit: 1, ...(nextToken ? { nextToken } : {}) });
      expect(page.jobs.length).toBeLessThanOrEqual(1);
      seen.push(...page.jobs.map((j) => j.id));
      nextToken = page.nextToken;
      if (nextToken)
        for (const id of mine)
          expect(Buffer.from(nextToken, 'base64url').toString('latin1')).not.toContain(id);
    } while (nextToken);
    expect(seen).toEqual(mine);

    const first = await manager.jobs.list({ limit: 1 });
    const token = first.nextToken ?? '';
    expect(token).not.toBe('');
    for (const other of [GRANTEE, OUTSIDER]) {
      const refused = await t
        .client(other)
        .jobs.list({ limit: 1, nextToken: token })
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(EaasError);
      expect(refused).toMatchObject({ code: 'InvalidPageToken', status: 400 });
    }
    // Another listing's token is refused too.
    const keysPage = await manager.keys.list({ limit: 1 });
    if (keysPage.nextToken)
      await expect(manager.jobs.list({ nextToken: keysPage.nextToken })).rejects.toMatchObject({
        code: 'InvalidPageToken',
      });
    await expect(manager.jobs.list({ limit: 0 })).rejects.toMatchObject({ status: 400 });
  });
});
