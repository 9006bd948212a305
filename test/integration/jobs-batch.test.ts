import { randomBytes } from 'node:crypto';
import { GRANTEE, KEY_MANAGER, KEY_USER, OUTSIDER, SERVICE } from '@eaas/aws-local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KmsKeyAdmin } from '../../src/aws/kms-admin.js';
import { S3JobObjects } from '../../src/aws/s3-jobs.js';
import { visibleCounts } from '../../src/core/rewrap-view.js';
import { makeHandler } from '../../src/handlers/rewrap-batch.js';
import { AccessControl } from '../../src/services/access.js';
import type { RewrapService } from '../../src/services/rewrap.js';
import { RewrapBatchTasks } from '../../src/services/rewrap-batch-task.js';
import { MemoryBatchJobs } from '../fakes/batch-jobs.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';
import {
  createJobKey,
  putDocument,
  S3Log,
  unwrapKeyOf,
  workerFor,
  writeForeignSet,
} from './jobs-fixtures.js';

/**
 * The batch engine end to end over the local KMS and S3 (real SDK clients): today's campaign
 * (jobs-rewrap.test.ts: S3EC V2 and V3, header in metadata or an instruction file, written by
 * the API and by an independent writer) started with `engine: "batch"` by an operator who
 * administers both keys, each object re-wrapped by the per-object function as S3 Batch
 * Operations invokes it. S3 Batch Operations itself is the in-memory fake of its port (the local
 * emulator is another piece of work): it lists the vault, invokes the function per task (twice
 * here, as S3 may), retries TemporaryFailure and writes the completion report to the local S3.
 */

let t: TestStack;
let bucket: string;
const log = new S3Log();
const OPERATOR = GRANTEE;
let keyA: string;
let keyB: string;
const originals = new Map<string, Buffer>();
let rewrap: RewrapService;
let batchJobs: MemoryBatchJobs;
let invoke: ReturnType<typeof makeHandler>;
let kmsCalls = 0;

const campaign = () => [...originals.keys()].filter((k) => k.startsWith('docs/') && k !== 'docs/other-key');
const arn = (name: string) => `arn:aws:iam::${t.config.accountId}:user/${name}`;
const caller = () => ({ arn: arn(OPERATOR) });

const createKey = (administrators: string[], users: string[]) =>
  createJobKey(t, { administrators, users, description: 'batch jobs' });
async function putViaApi(key: string, body: Buffer, keyId: string, context: Record<string, string>) {
  await putDocument(t, key, body, keyId, context);
  originals.set(key, body);
}

/** Builds the batch engine over the stack: the job service with S3 Batch Operations (the fake), and the function. */
function engine(retry: { attempts?: number } = {}, kmsClient = t.stack.serviceKms) {
  const vault = new S3JobObjects(t.stack.serviceS3, bucket);
  batchJobs = new MemoryBatchJobs(vault, vault);
  rewrap = workerFor(t, {
    batch: {
      jobs: batchJobs,
      functionArn: `arn:aws:lambda:${t.config.region}:${t.config.accountId}:function:eaas-local-rewrapbatch`,
      roleArn: `arn:aws:iam::${t.config.accountId}:role/eaas-local-batch-operations`,
      vaultBucket: bucket,
      objectPrefix: t.config.objectPrefix,
      // The reports beside the job records (no reports bucket locally): outside the documents.
      report: { bucket, prefix: 'jobs/batch-reports/' },
      reports: vault,
      priority: 10,
      threshold: 100_000,
      retry: { baseMs: 1, maxMs: 5 },
    },
  });
  const admin = new KmsKeyAdmin(kmsClient);
  const keys = {
    reEncrypt: (input: Parameters<KmsKeyAdmin['reEncrypt']>[0]) => {
      kmsCalls++;
      return admin.reEncrypt(input);
    },
  } as unknown as KmsKeyAdmin;
  const tasks = new RewrapBatchTasks(
    keys,
    new AccessControl(admin),
    new S3JobObjects(t.stack.serviceS3, bucket, t.config.objectPrefix),
    rewrap,
    {
      vaultBucket: bucket,
      objectPrefix: t.config.objectPrefix,
      retry: { baseMs: 1, maxMs: 5, ...retry },
    },
  );
  invoke = makeHandler({ tasks });
}

async function countsOf(id: string) {
  const found = await rewrap.load(id);
  if (!found) throw new Error(`no job ${id}`);
  return visibleCounts(found.job);
}

const bigContext = { tenant: 'acme', a: 'x'.repeat(1000), b: 'y'.repeat(1000) };

beforeAll(async () => {
  t = await startTestStack({ env: { EAAS_REWRAP_TICK_SECONDS: '0' }, onS3Request: log.listener });
  bucket = t.config.vaultBucket;
  keyA = await createKey([arn(KEY_MANAGER), arn(OPERATOR)], [arn(KEY_USER), arn(OUTSIDER)]);
  keyB = await createKey([arn(KEY_MANAGER), arn(OPERATOR)], [arn(KEY_USER)]);
  for (const [i, size] of [0, 1000, 70_000].entries()) {
    await putViaApi(`docs/api-v3-${i}`, randomBytes(size), keyA, { tenant: 'acme' });
    await putViaApi(`docs/api-v3-instr-${i}`, randomBytes(size), keyA, bigContext);
  }
  const kms = t.kms(KEY_USER);
  const s3 = t.s3(SERVICE);
  const foreign = await writeForeignSet(kms, s3, bucket, { prefix: 'docs/', keyId: keyA, sizes: [3000] });
  for (const [key, plaintext] of foreign) originals.set(key, plaintext);
  await putViaApi('docs/other-key', Buffer.from('under the default key'), 'alias/eaas-default', {});
  await putViaApi('elsewhere/doc', Buffer.from('outside the prefix'), keyA, {});
  engine();
});
afterAll(() => t.stop());

describe('a campaign from key A to key B on the batch engine', () => {
  it('dry-runs: S3 invokes the function for every object, and nothing is written', async () => {
    const started = await rewrap.start(caller(), {
      sourceKeyId: keyA,
      destinationKeyId: keyB,
      prefix: 'docs/',
      dryRun: true,
      engine: 'batch',
    });
    expect(started).toMatchObject({ state: 'pending', engine: 'batch', dryRun: true });
    const mark = log.mark();
    const ran = await batchJobs.run(started.id, invoke);
    expect(ran).toMatchObject({ status: 'Complete', failed: 0 });
    const writes = log.since(mark).filter((e) => e.method === 'PUT' && !e.key.startsWith('jobs/'));
    expect(writes).toEqual([]);
    await rewrap.tick();
    expect((await rewrap.status(caller(), started.id)).state).toBe('succeeded');
  });

  it('re-wraps every object once (each task invoked twice), reads no body; each decrypts; A can be disabled', async () => {
    const started = await rewrap.start(caller(), {
      sourceKeyId: keyA,
      destinationKeyId: keyB,
      prefix: 'docs/',
      engine: 'batch',
    });
    const before = kmsCalls;
    const mark = log.mark();
    const ran = await batchJobs.run(started.id, invoke, { twice: true });
    const during = log.since(mark);
    expect(ran).toMatchObject({ status: 'Complete', failed: 0 });
    await rewrap.tick();
    const view = await rewrap.status(caller(), started.id);
    expect(view).toMatchObject({ state: 'succeeded', engine: 'batch' });
    expect(view).not.toHaveProperty('counts');
    expect(view.report?.summary).not.toMatch(/\d/);
    // Every campaign object re-wrapped once: one ReEncrypt and one metadata copy each, though
    // S3 invoked each task twice; the other key's object skipped by its metadata, without KMS.
    expect(kmsCalls - before).toBe(campaign().length);
    for (const key of campaign())
      expect(
        during.filter((e) => e.key.endsWith(key) && e.copy && e.status === 200),
        key,
      ).toHaveLength(1);
    // No document body read: no GET of a document key.
    const documentReads = during.filter(
      (e) =>
        e.method === 'GET' && e.key !== '' && !e.key.endsWith('.instruction') && !e.key.startsWith('jobs/'),
    );
    expect(documentReads).toEqual([]);
    const kms = t.kms(KEY_USER);
    const s3 = t.s3(SERVICE);
    const full = (key: string) => `${t.config.objectPrefix}${key}`;
    for (const key of campaign()) expect(await unwrapKeyOf(kms, s3, bucket, full(key)), key).toBe(keyB);
    expect(await unwrapKeyOf(kms, s3, bucket, full('docs/other-key'))).not.toBe(keyB);
    expect(await unwrapKeyOf(kms, s3, bucket, full('elsewhere/doc'))).toBe(keyA);

    const disabled = await t.client(KEY_MANAGER).raw('POST', `/v1/keys/${encodeURIComponent(keyA)}/disable`);
    expect(disabled.status).toBe(200);
    try {
      for (const [key, body] of originals) {
        if (!key.startsWith('docs/')) continue;
        const got = await t.client(KEY_USER).rawBytes('GET', `/v1/objects/${encodeURIComponent(key)}`);
        expect(got.status, key).toBe(200);
        expect(Buffer.from(got.bytes).equals(body), key).toBe(true);
      }
    } finally {
      await t.client(KEY_MANAGER).raw('POST', `/v1/keys/${encodeURIComponent(keyA)}/enable`);
    }
  });

  it('running the same campaign again re-wraps nothing', async () => {
    const started = await rewrap.start(caller(), {
      sourceKeyId: keyA,
      destinationKeyId: keyB,
      prefix: 'docs/',
      engine: 'batch',
    });
    const mark = log.mark();
    await batchJobs.run(started.id, invoke);
    expect(log.since(mark).filter((e) => e.copy)).toEqual([]);
    await rewrap.tick();
    expect((await rewrap.status(caller(), started.id)).state).toBe('succeeded');
  });

  it('completes with no failure while the local KMS throttles a third of the ReEncrypt calls (S3 retries)', async () => {
    for (let i = 0; i < 9; i++) await putViaApi(`throttle/${i}`, randomBytes(64), keyA, {});
    // One attempt per call in the function and in its SDK client: S3's retries of
    // TemporaryFailure do the retrying.
    const { KMSClient } = await import('@aws-sdk/client-kms');
    const service = t.principal(SERVICE);
    const single = new KMSClient({
      endpoint: t.stack.kms.endpoint,
      region: t.config.region,
      credentials: { accessKeyId: service.accessKeyId, secretAccessKey: service.secretAccessKey },
      maxAttempts: 1,
    });
    engine({ attempts: 1 }, single);
    const started = await rewrap.start(caller(), {
      sourceKeyId: keyA,
      destinationKeyId: keyB,
      prefix: 'throttle/',
      engine: 'batch',
    });
    let call = 0;
    t.stack.kms.throttle(1 / 3, { operations: ['ReEncrypt'], random: () => (call++ % 3 === 0 ? 0 : 0.99) });
    let temporary = 0;
    const counted: typeof invoke = async (event) => {
      const out = await invoke(event);
      temporary += out.results.filter((r) => r.resultCode === 'TemporaryFailure').length;
      return out;
    };
    try {
      const ran = await batchJobs.run(started.id, counted, { attempts: 10 });
      expect(ran).toMatchObject({ status: 'Complete', failed: 0 });
    } finally {
      t.stack.kms.throttle(0);
      single.destroy();
    }
    expect(temporary).toBeGreaterThan(0);
    expect(await countsOf(started.id)).toMatchObject({ failed: {} });
    await rewrap.tick();
    expect((await rewrap.status(caller(), started.id)).state).toBe('succeeded');
    const kms = t.kms(KEY_USER);
    for (let i = 0; i < 9; i++)
      expect(await unwrapKeyOf(kms, t.s3(SERVICE), bucket, `${t.config.objectPrefix}throttle/${i}`)).toBe(
        keyB,
      );
  });
});

describe('a completion report read streamed through the S3 adapter (GetObject Range)', () => {
  it('from a byte, in pieces; from its end or past it, nothing (416 InvalidRange answered as empty); absent, undefined', async () => {
    const reports = new S3JobObjects(t.stack.serviceS3, bucket);
    const key = `jobs/batch-reports/streamed-${randomBytes(4).toString('hex')}.csv`;
    const text = Array.from({ length: 5000 }, (_, i) => `b,k${i},,succeeded,200,,"rewrapped"`).join('\n');
    await reports.write(key, text, { contentType: 'text/csv' });
    const readAll = async (start: number) => {
      const body = await reports.readFrom(key, start);
      if (!body) return undefined;
      const pieces: Buffer[] = [];
      for await (const piece of body) pieces.push(Buffer.from(piece));
      return Buffer.concat(pieces).toString('utf8');
    };
    expect(await readAll(0)).toBe(text);
    expect(await readAll(1234)).toBe(text.slice(1234));
    expect(await readAll(text.length)).toBe('');
    expect(await readAll(text.length + 10)).toBe('');
    expect(await reports.readFrom(`${key}.absent`, 0)).toBeUndefined();
    // Leaving early releases the body: the next read is served.
    const body = await reports.readFrom(key, 0);
    for await (const _ of body ?? []) break;
    expect((await readAll(4000))?.length).toBe(text.length - 4000);
  });
});
