import { GRANTEE, KEY_MANAGER, KEY_USER, SERVICE } from '@eaas/aws-local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';
import { createJobKey, putDocuments, S3Log, unwrapKeyOf } from './jobs-fixtures.js';

/**
 * A batch job cancelled while S3 Batch Operations runs it, then made again: on the local stack
 * with one invocation at a time and 20 ms of injected latency per S3 and KMS request, so that the
 * cancel (POST /v1/jobs/{id}/cancel) lands mid-run. Every object ends readable, on the
 * destination key, copied once; GET /v1/jobs shows both jobs as S3 left them.
 */

let t: TestStack;
const log = new S3Log();
const OPERATOR = GRANTEE;
const originals = new Map<string, Buffer>();
let keyA: string;
let keyB: string;
const arn = (name: string) => `arn:aws:iam::${t.config.accountId}:user/${name}`;

const createKey = () =>
  createJobKey(t, {
    administrators: [arn(KEY_MANAGER), arn(OPERATOR)],
    users: [arn(KEY_USER)],
    description: 'batch cancel',
  });

async function start(): Promise<string> {
  const res = await t.client(OPERATOR).raw('POST', '/v1/jobs/re-encrypt', {
    sourceKeyId: keyA,
    destinationKeyId: keyB,
    prefix: 'cancel/',
    engine: 'batch',
  });
  if (res.status !== 200 && res.status !== 202) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
  return (res.body as { id: string }).id;
}

beforeAll(async () => {
  t = await startTestStack({
    env: { EAAS_REWRAP_TICK_SECONDS: '0', EAAS_BATCH_CONCURRENCY: '1', EAAS_LOCAL_LATENCY_MS: '20' },
    onS3Request: log.listener,
  });
  keyA = await createKey();
  keyB = await createKey();
  for (const [key, body] of await putDocuments(t, 'cancel/', 12, keyA, (i) => 100 + i))
    originals.set(key, body);
}, 120_000);
afterAll(() => t?.stop());

describe('a batch job cancelled and made again', () => {
  it('leaves every object readable, re-wrapped onto B exactly once', async () => {
    const mark = log.mark();
    const first = await start();
    // Cancelled once S3 has re-wrapped some objects and not all.
    const s3 = t.s3(SERVICE);
    const kms = t.kms(KEY_USER);
    const moved = async () => {
      let n = 0;
      for (const key of originals.keys())
        if ((await unwrapKeyOf(kms, s3, t.config.vaultBucket, key)) === keyB) n++;
      return n;
    };
    const deadline = Date.now() + 30_000;
    while ((await moved()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // POST /v1/jobs/{id}/cancel: UpdateJobStatus Cancelled to the local S3 Batch Operations.
    const cancelled = await t.client(OPERATOR).jobs.cancel(first);
    expect(cancelled.state).toBe('cancelled');
    await t.stack.s3Control.idle();
    const partly = await moved();
    expect(partly).toBeGreaterThan(0);
    expect(partly).toBeLessThan(originals.size);
    expect((await t.client(OPERATOR).getJob(first)).state).toBe('cancelled');

    // S3 says Cancelled too (the record said so at once).
    const s3JobId = (await t.stack.rewrap.load(first))?.job.batch?.jobId;
    expect(t.stack.s3Control.store.get(s3JobId ?? '')?.Status).toBe('Cancelled');

    const second = await start();
    await t.stack.s3Control.idle();
    // The listing reads the job back from S3 (no GET of the job came first): Complete, and its
    // report of a dozen tasks counted by that request.
    const listed = await t.client(OPERATOR).jobs.list();
    expect(Object.fromEntries(listed.jobs.map((j) => [j.id, j.state]))).toMatchObject({
      [first]: 'cancelled',
      [second]: 'succeeded',
    });
    expect((await t.client(OPERATOR).getJob(second)).state).toBe('succeeded');
    // Finished: cancelling it is refused.
    const late = await t.client(OPERATOR).raw('POST', `/v1/jobs/${second}/cancel`);
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ error: 'InvalidState' });
    expect(await moved()).toBe(originals.size);
    const copies = log.since(mark).filter((e) => e.copy && e.status === 200);
    for (const key of originals.keys())
      expect(
        copies.filter((e) => e.key === key),
        key,
      ).toHaveLength(1);
    for (const [key, body] of originals) {
      const got = await t.client(KEY_USER).rawBytes('GET', `/v1/objects/${encodeURIComponent(key)}`);
      expect(got.status, key).toBe(200);
      expect(Buffer.from(got.bytes).equals(body), key).toBe(true);
    }
  }, 120_000);
});
