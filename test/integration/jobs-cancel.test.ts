import { GRANTEE, KEY_MANAGER, KEY_USER, OUTSIDER, SERVICE } from '@eaas/aws-local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonOf, runCli } from '../helpers/cli-keys-run.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';
import { createJobKey, putDocuments, S3Log, unwrapKeyOf } from './jobs-fixtures.js';

/**
 * POST /v1/jobs/{id}/cancel on a scheduled job, through the local stack: the schedule's timer is
 * off and the stack's own worker is driven page by page (two documents a page), so the cancel
 * lands between two pages of a running job. The batch engine's cancel mid-run is
 * jobs-batch-cancel.test.ts.
 */

let t: TestStack;
const log = new S3Log();
const OPERATOR = GRANTEE;
const originals = new Map<string, Buffer>();
let keyA: string;
let keyB: string;
const arn = (name: string) => `arn:aws:iam::${t.config.accountId}:user/${name}`;
const path = (id: string) => `/v1/jobs/${encodeURIComponent(id)}/cancel`;

const createKey = () =>
  createJobKey(t, {
    administrators: [arn(KEY_MANAGER), arn(OPERATOR)],
    users: [arn(KEY_USER)],
    description: 'jobs cancel',
  });

async function start(extra: Record<string, unknown> = {}): Promise<string> {
  const res = await t.client(OPERATOR).raw('POST', '/v1/jobs/re-encrypt', {
    sourceKeyId: keyA,
    destinationKeyId: keyB,
    prefix: 'cancel/',
    engine: 'scheduled',
    ...extra,
  });
  if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
  return (res.body as { id: string }).id;
}

/** How many of the documents are under key B now (their wrapped data keys, read from S3). */
async function moved(): Promise<number> {
  let n = 0;
  for (const key of originals.keys())
    if ((await unwrapKeyOf(t.kms(KEY_USER), t.s3(SERVICE), t.config.vaultBucket, key)) === keyB) n++;
  return n;
}

beforeAll(async () => {
  t = await startTestStack({
    env: { EAAS_REWRAP_TICK_SECONDS: '0', EAAS_REWRAP_PAGE_SIZE: '2' },
    onS3Request: log.listener,
  });
  keyA = await createKey();
  keyB = await createKey();
  for (const [key, body] of await putDocuments(t, 'cancel/', 6, keyA, (i) => 50 + i))
    originals.set(key, body);
}, 60_000);
afterAll(() => t?.stop());

describe('a scheduled job cancelled mid-run', () => {
  it('stops at its page boundary with its counts; cancelling again is the same view; a new job moves the rest, once each', async () => {
    const mark = log.mark();
    const id = await start();
    // The counting page and one page of two documents; the worker keeps its lease.
    const ran = await t.stack.rewrap.run(id, undefined, 2);
    expect(ran?.lease).toBeDefined();
    expect(await moved()).toBe(2);

    const cancelled = await t.client(OPERATOR).jobs.cancel(id);
    expect(cancelled).toMatchObject({ id, state: 'cancelled', engine: 'scheduled' });
    expect(cancelled.report?.summary).toMatch(/^The job was cancelled\. /);
    // The view of a cancelled job shows no count, as every view.
    expect(JSON.stringify(cancelled)).not.toMatch(/"(counts|total|failures)"/);
    // The worker finds its lease gone; no tick takes the job again.
    expect(await t.stack.rewrap.run(id)).toBeUndefined();
    await t.stack.rewrap.tick();
    expect(await moved()).toBe(2);
    expect((await t.stack.rewrap.load(id))?.job).toMatchObject({
      phase: 'cancelled',
      counts: { scanned: 2, rewrapped: 2 },
    });
    const again = await t.client(OPERATOR).raw('POST', path(id));
    expect(again.status).toBe(200);
    const { requestId: _first, ...view } = cancelled as typeof cancelled & { requestId?: string };
    expect(again.body).toEqual({ ...view, requestId: expect.any(String) });
    expect((await t.client(OPERATOR).jobs.get(id)).state).toBe('cancelled');

    // Every document reads back, moved or not.
    for (const [key, body] of originals) {
      const got = await t.client(KEY_USER).rawBytes('GET', `/v1/objects/${encodeURIComponent(key)}`);
      expect(got.status, key).toBe(200);
      expect(Buffer.from(got.bytes).equals(body), key).toBe(true);
    }

    const second = await start();
    expect((await t.stack.rewrap.run(second))?.phase).toBe('succeeded');
    expect(await moved()).toBe(originals.size);
    const copies = log.since(mark).filter((e) => e.copy && e.status === 200);
    for (const key of originals.keys())
      expect(
        copies.filter((e) => e.key === key),
        key,
      ).toHaveLength(1);

    // A finished job: 409 InvalidState, and it stays as it finished.
    const late = await t.client(OPERATOR).raw('POST', path(second));
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ error: 'InvalidState' });
    expect((await t.client(OPERATOR).jobs.get(second)).state).toBe('succeeded');
  }, 60_000);

  it('refuses as GET does: 404 NotFound for an unknown id, 403 AccessDenied to whoever does not administer its keys', async () => {
    const id = await start({ dryRun: true, prefix: 'none/' });
    for (const unknown of ['no-such-job', 'x'.repeat(65)]) {
      const res = await t.client(OPERATOR).raw('POST', path(unknown));
      expect(res.status, unknown).toBe(404);
      expect(res.body).toMatchObject({ error: 'NotFound' });
    }
    for (const who of [KEY_USER, OUTSIDER]) {
      const res = await t.client(who).raw('POST', path(id));
      const got = await t.client(who).raw('GET', `/v1/jobs/${id}`);
      expect(res.status, who).toBe(403);
      expect(res.body).toMatchObject({ error: 'AccessDenied' });
      expect(got.status).toBe(res.status);
    }
    expect((await t.client(OPERATOR).jobs.get(id)).state).toBe('pending');
    // A dry run cancels too.
    expect((await t.client(OPERATOR).jobs.cancel(id)).state).toBe('cancelled');
  });

  it('eaas jobs cancel: the view and exit 0, again 0; a finished job exit 6, an unknown one 5, a non-administrator 4', async () => {
    const eaas = (as: string, ...args: string[]) => runCli(t, ['--output', 'json', 'jobs', ...args], { as });
    const id = await start({ dryRun: true, prefix: 'none/' });
    const first = await eaas(OPERATOR, 'cancel', id);
    expect(first.code, first.stderr).toBe(0);
    expect(jsonOf<{ state: string }>(first).state).toBe('cancelled');
    expect((await eaas(OPERATOR, 'cancel', id)).code).toBe(0);

    const done = await start({ dryRun: true, prefix: 'none/' });
    await t.stack.rewrap.run(done);
    const finished = await eaas(OPERATOR, 'cancel', done);
    expect(finished.code, finished.stderr).toBe(6);
    expect(finished.stdout).toBe('');
    expect(finished.stderr).toMatch(/InvalidState/);
    expect((await eaas(OPERATOR, 'cancel', 'no-such-job')).code).toBe(5);
    expect((await eaas(KEY_USER, 'cancel', done)).code).toBe(4);
  }, 60_000);
});
