import { randomBytes } from 'node:crypto';
import { KEY_MANAGER, KEY_USER, SERVICE } from '@eaas/aws-local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FINISHED, type JobSpec, SCHEDULED_BY } from '../../src/core/rewrap-job.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';
import { S3Log, seeded, unwrapKeyOf, workerFor, writeForeign } from './jobs-fixtures.js';

/**
 * Re-encryption jobs that are cut off, raced and shared: a worker killed at seeded random points
 * and resumed by another, a document overwritten while the job works on it, two workers on one job.
 */

let t: TestStack;
let bucket: string;
const log = new S3Log();
let keyA: string;
let keyB: string;
let keyC: string;
const LEASE_MS = 60_000;

class Crash extends Error {}

const arn = (name: string) => `arn:aws:iam::${t.config.accountId}:user/${name}`;
const spec = (prefix: string, concurrency = 2): JobSpec => ({
  mode: 'source-key',
  sourceKeyArn: keyA,
  destinationKeyArn: keyB,
  prefix,
  dryRun: false,
  concurrency,
});

async function createKey(): Promise<string> {
  const res = await t.client(KEY_MANAGER).raw('POST', '/v1/keys', {
    description: 'jobs resume',
    users: [arn(KEY_USER)],
  });
  return (res.body as { key: { arn: string } }).key.arn;
}

async function putViaApi(key: string, body: Buffer, keyId: string, context: Record<string, string> = {}) {
  const res = await t.client(KEY_USER).rawBytes('PUT', `/v1/objects/${encodeURIComponent(key)}`, body, {
    keyId,
    context: JSON.stringify(context),
  });
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  return res.headers.get('etag') ?? (res.body as { etag?: string })?.etag;
}

async function readBack(key: string): Promise<Buffer> {
  const got = await t.client(KEY_USER).rawBytes('GET', `/v1/objects/${encodeURIComponent(key)}`);
  if (got.status !== 200) throw new Error(`${key}: ${got.status}`);
  return Buffer.from(got.bytes);
}

beforeAll(async () => {
  t = await startTestStack({ env: { EAAS_REWRAP_TICK_SECONDS: '0' }, onS3Request: log.listener });
  bucket = t.config.vaultBucket;
  keyA = await createKey();
  keyB = await createKey();
  keyC = await createKey();
});
afterAll(() => t.stop());

describe('a job killed at random points and resumed', () => {
  it('ends with every object readable and re-wrapped exactly once (20 seeded runs)', async () => {
    const bigContext = { a: 'x'.repeat(1000), b: 'y'.repeat(1000) };
    const kms = t.kms(KEY_USER);
    const s3 = t.s3(SERVICE);
    for (let seed = 1; seed <= 20; seed++) {
      const prefix = `crash/${seed}/`;
      const originals = new Map<string, Buffer>();
      const random = seeded(seed);
      for (let i = 0; i < 5; i++) {
        const key = `${prefix}api-${i}`;
        const body = randomBytes(1 + Math.floor(random() * 200));
        await putViaApi(key, body, keyA, i % 2 === 0 ? {} : bigContext);
        originals.set(key, body);
      }
      const foreign = `${prefix}foreign-v2-instr`;
      const plaintext = randomBytes(33);
      await writeForeign(kms, s3, bucket, {
        key: foreign,
        keyId: keyA,
        plaintext,
        version: 'v2',
        instruction: true,
      });
      originals.set(foreign, plaintext);

      let offset = 0;
      const now = () => new Date(Date.now() + offset);
      const reader = workerFor(t, {});
      const job = await reader.create(spec(prefix), arn(KEY_MANAGER));
      const mark = log.mark();
      let crashes = 0;
      let phase = job.phase;
      for (let round = 0; round < 60 && !FINISHED.has(phase); round++) {
        const crashAfter = 1 + Math.floor(random() * 14);
        let steps = 0;
        const worker = workerFor(t, {
          now,
          pageSize: 2,
          leaseMs: LEASE_MS,
          worker: `w-${seed}-${round}`,
          step: () => {
            // Dead once crashed: every later step of this worker fails too.
            if (++steps >= crashAfter) throw new Crash(`seed ${seed} round ${round} step ${steps}`);
          },
        });
        try {
          const out = await worker.run(job.id);
          // A worker that is not cut off, alone on the job, takes it to the end.
          expect(out?.phase, `seed ${seed} round ${round}`).toBe('succeeded');
        } catch (error) {
          if (!(error instanceof Crash)) throw error;
          crashes++;
          // The dead worker's lease runs out before the next one starts.
          offset += LEASE_MS + 1000;
        }
        // Whether the job is finished is what its record says: a worker may die right after the
        // save that finished it (at `page-saved`), and a finished job is not run again.
        phase = (await reader.load(job.id))?.job.phase ?? phase;
      }
      expect(phase, `seed ${seed}`).toBe('succeeded');
      expect(crashes, `seed ${seed}`).toBeGreaterThan(0);
      const final = await reader.load(job.id);
      expect(final?.job.counts.failed, `seed ${seed}`).toEqual({});
      expect(
        (final?.job.counts.rewrapped ?? 0) + (final?.job.counts.alreadyCurrent ?? 0),
        `seed ${seed}`,
      ).toBe(6);

      const events = log.since(mark);
      for (const [key, body] of originals) {
        expect(await readBack(key), `seed ${seed} ${key}`).toEqual(body);
        expect(await unwrapKeyOf(kms, s3, bucket, key), key).toBe(keyB);
        // Exactly once: one successful metadata copy, one instruction file write where there is one.
        expect(
          events.filter((e) => e.key === key && e.copy && e.status === 200),
          `seed ${seed} ${key}`,
        ).toHaveLength(1);
        const instructionWrites = events.filter(
          (e) => e.key === `${key}.instruction` && e.method === 'PUT' && e.status === 200,
        );
        expect(instructionWrites.length, `seed ${seed} ${key}`).toBeLessThanOrEqual(1);
      }
    }
  }, 60_000);
});

describe('a document overwritten while the job works on it', () => {
  it('keeps the new upload untouched: the conditional copy loses and the object is taken again', async () => {
    const prefix = 'race/';
    for (let i = 0; i < 4; i++) await putViaApi(`${prefix}${i}`, randomBytes(50), keyA);
    const fresh = Buffer.from('the new upload, under another key');
    let newEtag: string | undefined;
    let raced = false;
    const worker = workerFor(t, {
      pageSize: 10,
      step: async (name, key) => {
        // After KMS re-wrapped the data key of race/2, and before the job writes it: a new upload lands.
        if (name === 're-encrypted' && key === `${prefix}2` && !raced) {
          raced = true;
          newEtag = await putViaApi(`${prefix}2`, fresh, keyC);
        }
      },
    });
    const job = await worker.create(spec(prefix, 1), arn(KEY_MANAGER));
    const mark = log.mark();
    const done = await worker.run(job.id);
    expect(raced).toBe(true);
    expect(done?.phase).toBe('succeeded');
    expect(done?.counts).toMatchObject({ rewrapped: 3, failed: {}, skipped: { 'other-key': 1 } });
    // The copy conditioned on the old ETag was refused by S3...
    expect(log.since(mark).some((e) => e.key === `${prefix}2` && e.copy && e.status === 412)).toBe(true);
    // ...and the new upload is as its writer left it: same body, same ETag, its own key.
    expect(await readBack(`${prefix}2`)).toEqual(fresh);
    const head = await t
      .client(KEY_USER)
      .raw('GET', `/v1/objects/${encodeURIComponent(`${prefix}2`)}`, undefined, {
        metadata: '',
      });
    expect(head.body).toMatchObject({ keyId: keyC });
    if (newEtag) expect((head.body as { etag: string }).etag).toBe(newEtag);
  });
});

describe('two workers on one job', () => {
  it('never process the same page: the second waits for the lease, or takes over an expired one', async () => {
    const prefix = 'lease/';
    for (let i = 0; i < 6; i++) await putViaApi(`${prefix}${i}`, randomBytes(10), keyA);
    let offset = 0;
    const now = () => new Date(Date.now() + offset);
    const pages: { worker: string; cursor?: string | undefined }[] = [];
    const logTo = (worker: string) => (message: string, fields: Record<string, unknown>) => {
      if (message === 're-encryption job page' && fields.phase !== 'counting')
        pages.push({ worker, cursor: fields.cursor as string | undefined });
    };
    const second = workerFor(t, {
      now,
      pageSize: 2,
      leaseMs: LEASE_MS,
      worker: 'second',
      log: logTo('second'),
    });
    let interfered = false;
    const first = workerFor(t, {
      now,
      pageSize: 2,
      leaseMs: LEASE_MS,
      worker: 'first',
      log: logTo('first'),
      step: async (name) => {
        if (name !== 'page-saved' || interfered) return;
        interfered = true;
        // While the first holds the lease, the second is turned away...
        expect(await second.run(job.id)).toBeUndefined();
        // ...until the lease has run out: then it takes the job over and finishes it.
        offset += LEASE_MS + 1000;
        expect((await second.run(job.id))?.phase).toBe('succeeded');
      },
    });
    const job = await first.create(spec(prefix), arn(KEY_MANAGER));
    const mark = log.mark();
    // The first worker finds its lease gone before its next page, and stops.
    expect(await first.run(job.id)).toBeUndefined();
    const cursors = pages.map((p) => p.cursor ?? '');
    expect(new Set(cursors).size).toBe(cursors.length);
    expect(pages.some((p) => p.worker === 'first') && pages.some((p) => p.worker === 'second')).toBe(true);
    for (let i = 0; i < 6; i++)
      expect(
        log.since(mark).filter((e) => e.key === `${prefix}${i}` && e.copy && e.status === 200),
      ).toHaveLength(1);
  });
});

describe('the local schedule', () => {
  it('runs unfinished jobs on its timer (EAAS_REWRAP_TICK_SECONDS shortens it)', async () => {
    const timed = await startTestStack({ env: { EAAS_REWRAP_TICK_SECONDS: '1' } });
    try {
      // An operator's scheduled campaign (`schedule`): it runs with the service's authority.
      const job = await timed.stack.rewrap.create(
        { ...spec(''), sourceKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/none', dryRun: true },
        SCHEDULED_BY,
      );
      let phase = job.phase as string;
      for (let i = 0; i < 100 && phase !== 'succeeded'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        phase = (await timed.stack.rewrap.load(job.id))?.job.phase ?? phase;
      }
      expect(phase).toBe('succeeded');
    } finally {
      await timed.stop();
    }
  });
});
