import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  EAAS_METADATA,
  type EnvelopeHeader,
  encodeHeader,
  INSTRUCTION_METADATA,
} from '../../src/core/envelope/index.js';
import { DomainError, InvalidCiphertextError } from '../../src/core/errors.js';
import {
  decodeTaskKey,
  encodeTaskKey,
  JOB_ARGUMENT,
  type S3BatchEventV2,
} from '../../src/core/rewrap-batch.js';
import { type JobSpec, SCHEDULED_BY } from '../../src/core/rewrap-job.js';
import { jobView } from '../../src/core/rewrap-view.js';
import { makeHandler } from '../../src/handlers/rewrap-batch.js';
import type { Keys } from '../../src/ports.js';
import { RewrapService } from '../../src/services/rewrap.js';
import { RewrapBatchTasks } from '../../src/services/rewrap-batch-task.js';
import { MemoryBatchJobs } from '../fakes/batch-jobs.js';
import { MemoryJobObjects } from '../fakes/job-objects.js';

/**
 * The batch engine against in-memory fakes: the per-object function S3 Batch Operations invokes
 * (answers per task, idempotence, crashes, throttling, cancel), and the job's view read back from
 * DescribeJob and the completion report.
 */

const A = 'arn:aws:kms:us-east-1:111122223333:key/a';
const B = 'arn:aws:kms:us-east-1:111122223333:key/b';
const C = 'arn:aws:kms:us-east-1:111122223333:key/c';
const VAULT = 'eaas-vault';
const spec = (over: Partial<JobSpec> = {}): JobSpec => ({
  mode: 'source-key',
  sourceKeyArn: A,
  destinationKeyArn: B,
  prefix: 'docs/',
  dryRun: false,
  concurrency: 1,
  ...over,
});

/** A wrapped key is `<key arn>|<random>`: ReEncrypt swaps the arn, refusing a ciphertext under another key. */
const wrapped = (keyArn: string) => Buffer.from(`${keyArn}|${randomBytes(8).toString('hex')}`);
const keyOf = (ciphertext: Uint8Array) => Buffer.from(ciphertext).toString().split('|')[0];

/** KMS ReEncrypt in memory, counting calls per data key, with throttling or 5xx injected. */
class FakeKeys {
  readonly calls = new Map<string, number>();
  /** The next n calls fail with this error. */
  failNext: { n: number; error: () => Error } = { n: 0, error: () => new Error() };
  reEncrypt = async (input: Parameters<Keys['reEncrypt']>[0]) => {
    if (this.failNext.n > 0) {
      this.failNext.n--;
      throw this.failNext.error();
    }
    const text = Buffer.from(input.ciphertext).toString();
    const [from, rest] = text.split('|');
    if (input.sourceKeyId !== undefined && from !== input.sourceKeyId) throw new InvalidCiphertextError();
    this.calls.set(rest ?? '', (this.calls.get(rest ?? '') ?? 0) + 1);
    return {
      ciphertext: Buffer.from(`${input.destinationKeyId}|${rest}`),
      sourceKeyArn: from,
      keyArn: input.destinationKeyId,
    };
  };
  /** How many times each data key was re-wrapped. */
  get counts(): number[] {
    return [...this.calls.values()];
  }
}

const v3 = (keyArn: string): EnvelopeHeader => ({
  version: 'v3',
  wrappedKey: wrapped(keyArn),
  kmsContext: { tenant: 'acme', 'aws:x-amz-cek-alg': '115' },
  messageId: randomBytes(28),
  commitment: randomBytes(28),
});
const v2 = (keyArn: string): EnvelopeHeader => ({
  version: 'v2',
  wrappedKey: wrapped(keyArn),
  kmsContext: { tenant: 'acme', 'aws:x-amz-cek-alg': 'AES/GCM/NoPadding' },
  iv: randomBytes(12),
});

/** Stores a document as the API (ours: true) or another S3EC writer does, header in metadata or an instruction file. */
async function seed(
  vault: MemoryJobObjects,
  key: string,
  header: EnvelopeHeader,
  options: { instruction?: boolean; ours?: boolean } = {},
) {
  const encoded = encodeHeader(header, { instructionFile: options.instruction === true });
  const ours: Record<string, string> = options.ours
    ? {
        [EAAS_METADATA.keyArn]: keyOf(header.wrappedKey) ?? '',
        [EAAS_METADATA.wrappedAt]: '2020-01-01T00:00:00Z',
      }
    : {};
  await vault.write(key, 'CIPHERTEXT-BODY', {
    contentType: 'application/octet-stream',
    metadata: { ...encoded.metadata, ...ours },
  });
  if (options.instruction)
    await vault.write(`${key}.instruction`, encoded.instruction ?? '', {
      contentType: 'application/json',
      metadata: { ...INSTRUCTION_METADATA },
    });
}

/** The key a stored object's data key is under (metadata or instruction file), and the key its metadata names. */
async function underOf(vault: MemoryJobObjects, key: string) {
  const o = vault.objects.get(key);
  const instruction = vault.objects.get(`${key}.instruction`);
  const fields = { ...o?.metadata, ...(instruction ? JSON.parse(instruction.text) : {}) } as Record<
    string,
    string
  >;
  const blob = fields['x-amz-key-v2'] ?? fields['x-amz-3'] ?? '';
  return { under: keyOf(Buffer.from(blob, 'base64')), named: o?.metadata[EAAS_METADATA.keyArn] };
}

async function setup(
  options: {
    step?: (name: string, key?: string) => void | Promise<void>;
    /** The scheduled runner's step hook (`RunOptions.step`). */
    runStep?: (name: string, key?: string) => void | Promise<void>;
    objectPrefix?: string;
  } = {},
) {
  const vault = new MemoryJobObjects();
  const reports = new MemoryJobObjects();
  const batchJobs = new MemoryBatchJobs(vault, reports);
  const keys = new FakeKeys();
  const reads: string[] = [];
  const read = vault.read.bind(vault);
  vault.read = async (key: string) => {
    reads.push(key);
    return read(key);
  };
  const rewrap = new RewrapService(keys as unknown as Keys, {} as never, {} as never, vault, vault, {
    retry: { baseMs: 1, maxMs: 2 },
    pageSize: 2,
    ...(options.runStep ? { step: options.runStep } : {}),
    batch: {
      jobs: batchJobs,
      functionArn: 'arn:aws:lambda:us-east-1:111122223333:function:eaas-dev-rewrapbatch',
      roleArn: 'arn:aws:iam::111122223333:role/eaas-dev-batch-operations',
      vaultBucket: VAULT,
      objectPrefix: '',
      report: { bucket: 'eaas-reports', prefix: 'reports/' },
      reports,
      priority: 10,
      threshold: 100_000,
      retry: { baseMs: 1, maxMs: 2 },
    },
  });
  const tasks = new RewrapBatchTasks(keys as unknown as Keys, {} as never, vault, rewrap, {
    vaultBucket: VAULT,
    objectPrefix: options.objectPrefix ?? '',
    retry: { attempts: 2, baseMs: 1, maxMs: 1 },
    authorityMs: 0,
    ...(options.step ? { step: options.step } : {}),
  });
  const invoke = makeHandler({ tasks });
  const start = (over: Partial<JobSpec> = {}) =>
    rewrap.create(spec(over), SCHEDULED_BY, undefined, undefined, undefined, {
      engine: 'batch',
      choice: 'batch',
    });
  return { vault, reports, batchJobs, keys, reads, rewrap, tasks, invoke, start };
}

/** A hand-made event of one task, as S3 sends it (schema 2.0). */
const event = (jobId: string, key: string, bucket = VAULT): S3BatchEventV2 => ({
  invocationSchemaVersion: '2.0',
  invocationId: 'inv',
  job: { id: 's3job', userArguments: { [JOB_ARGUMENT]: jobId } },
  tasks: [{ taskId: 't1', s3Bucket: bucket, s3Key: encodeURIComponent(key), s3VersionId: null }],
});

describe('the batch function: one answer per task', () => {
  it('re-wraps a document and answers Succeeded; a second invocation of the task re-wraps nothing', async () => {
    const { vault, keys, invoke, start } = await setup();
    await seed(vault, 'docs/a b+c', v3(A), { ours: true });
    const job = await start();
    const first = await invoke(event(job.id, 'docs/a b+c'));
    expect(first).toEqual({
      invocationSchemaVersion: '2.0',
      treatMissingKeysAs: 'PermanentFailure',
      invocationId: 'inv',
      results: [{ taskId: 't1', resultCode: 'Succeeded', resultString: 'rewrapped' }],
    });
    const again = await invoke(event(job.id, 'docs/a b+c'));
    expect(again.results[0]).toMatchObject({ resultCode: 'Succeeded', resultString: 'already re-wrapped' });
    expect(keys.counts).toEqual([1]);
    expect(await underOf(vault, 'docs/a b+c')).toEqual({ under: B, named: B });
  });

  it('answers TemporaryFailure when KMS throttles or fails past its own retries, then Succeeded on S3 retry', async () => {
    for (const error of [
      () => new DomainError('Throttled', 'KMS is throttling requests.'),
      () => new DomainError('DependencyFailure', 'KMS did not answer.'),
    ]) {
      const { vault, keys, invoke, start } = await setup();
      await seed(vault, 'docs/x', v3(A), { ours: true });
      const job = await start();
      keys.failNext = { n: 2, error };
      const first = (await invoke(event(job.id, 'docs/x'))).results[0];
      expect(first?.resultCode).toBe('TemporaryFailure');
      expect(first?.resultString).toMatch(/^retry: (Throttled|DependencyFailure)$/);
      expect(await underOf(vault, 'docs/x')).toEqual({ under: A, named: A });
      expect((await invoke(event(job.id, 'docs/x'))).results[0]?.resultCode).toBe('Succeeded');
      expect(keys.counts).toEqual([1]);
    }
  });

  it('answers PermanentFailure with the reason, and no secret in it', async () => {
    const { vault, invoke, start } = await setup();
    // Our metadata names A, but the instruction file it points to is gone.
    const encoded = encodeHeader(v3(A), { instructionFile: true });
    await vault.write('docs/lost', 'x', {
      contentType: 'application/octet-stream',
      metadata: { ...encoded.metadata, [EAAS_METADATA.keyArn]: A },
    });
    const job = await start();
    const result = (await invoke(event(job.id, 'docs/lost'))).results[0];
    expect(result).toEqual({
      taskId: 't1',
      resultCode: 'PermanentFailure',
      resultString: 'failed: instruction-file-missing',
    });
    // A key of another bucket: no document of this service.
    const other = (await invoke(event(job.id, 'docs/lost', 'someone-else'))).results[0];
    expect(other).toMatchObject({
      resultCode: 'PermanentFailure',
      resultString: 'not a document of this service',
    });
  });

  it('skips instruction files, job records and objects under other keys; never reads a body', async () => {
    const { vault, reads, invoke, start } = await setup();
    await seed(vault, 'docs/i', v3(A), { ours: true, instruction: true });
    await seed(vault, 'docs/other', v3(C), { ours: true });
    const job = await start();
    const answer = async (key: string) => (await invoke(event(job.id, key))).results[0]?.resultString;
    expect(await answer('docs/i.instruction')).toBe('skipped: not-a-document');
    expect(await answer(`jobs/${job.id}.json`)).toBe('skipped: not-a-document');
    expect(await answer('docs/other')).toBe('skipped: other-key');
    expect(await answer('docs/i')).toBe('rewrapped');
    expect(await answer('elsewhere/x')).toBe('skipped: outside-prefix');
    // Reads: job records and the instruction file only; never a document's body.
    expect(reads.filter((k) => !k.startsWith('jobs/'))).toEqual(['docs/i.instruction']);
  });

  it('answers Succeeded for every other object an S3 Inventory report of the whole bucket lists', async () => {
    // The service keeps documents under `vault/`; the inventory lists the bucket's root too.
    const { vault, keys, invoke, start } = await setup({ objectPrefix: 'vault/' });
    await seed(vault, 'docs/mine', v3(A), { ours: true });
    await seed(vault, 'docs/theirs-s3ec', v3(C));
    await vault.write('docs/theirs-plain', 'hello', { contentType: 'text/plain', metadata: {} });
    const job = await start();
    const answer = async (key: string) => (await invoke(event(job.id, key))).results[0];
    const skipped = (why: string) => ({ resultCode: 'Succeeded', resultString: `skipped: ${why}` });
    // The service's records and the inventory's own files, at the bucket's root.
    expect(await answer(`jobs/${job.id}.json`)).toEqual({
      taskId: 't1',
      ...skipped('outside-object-prefix'),
    });
    expect(await answer('quotas/caller.json')).toMatchObject(skipped('outside-object-prefix'));
    expect(await answer('inventory/eaas-vault/all/data/x.csv.gz')).toMatchObject(
      skipped('outside-object-prefix'),
    );
    // Under the object prefix: records, instruction files, other writers' objects, deleted objects.
    expect(await answer('vault/jobs/x.json')).toMatchObject(skipped('not-a-document'));
    expect(await answer('vault/quotas/x.json')).toMatchObject(skipped('not-a-document'));
    expect(await answer('vault/docs/mine.instruction')).toMatchObject(skipped('not-a-document'));
    expect(await answer('vault/docs/theirs-plain')).toMatchObject(skipped('not-encrypted'));
    expect(await answer('vault/docs/theirs-s3ec')).toMatchObject(skipped('other-key'));
    expect(await answer('vault/docs/gone')).toMatchObject(skipped('deleted'));
    expect(await answer('vault/elsewhere/x')).toMatchObject(skipped('outside-prefix'));
    expect(await answer('vault/docs/mine')).toMatchObject({
      resultCode: 'Succeeded',
      resultString: 'rewrapped',
    });
    expect(keys.counts).toEqual([1]);
    // Another bucket is still no document of this service: a job pointed at the wrong manifest.
    expect((await invoke(event(job.id, 'docs/mine', 'another-bucket'))).results[0]).toMatchObject({
      resultCode: 'PermanentFailure',
    });
  });

  it('refuses a job that is not a batch job, an unknown one, and an event of schema 1.0', async () => {
    const { vault, rewrap, invoke } = await setup();
    await seed(vault, 'docs/x', v3(A), { ours: true });
    const scheduled = await rewrap.create(spec(), SCHEDULED_BY);
    expect((await invoke(event(scheduled.id, 'docs/x'))).results[0]).toMatchObject({
      resultCode: 'PermanentFailure',
      resultString: expect.stringMatching(/^job refused: .* is not run by S3 Batch Operations$/),
    });
    expect((await invoke(event('nope', 'docs/x'))).results[0]?.resultCode).toBe('PermanentFailure');
    const v1 = {
      invocationSchemaVersion: '1.0',
      invocationId: 'i',
      job: { id: 'j' },
      tasks: [{ taskId: 't', s3Key: 'docs/x', s3BucketArn: `arn:aws:s3:::${VAULT}` }],
    };
    expect(await invoke(v1 as never)).toMatchObject({
      results: [
        { taskId: 't', resultCode: 'PermanentFailure', resultString: 'invocation schema 2.0 expected' },
      ],
    });
    expect(await underOf(vault, 'docs/x')).toEqual({ under: A, named: A });
  });

  it('a dry run changes nothing and answers what it would do', async () => {
    const { vault, keys, invoke, start } = await setup();
    await seed(vault, 'docs/x', v3(A), { ours: true });
    const job = await start({ dryRun: true });
    expect((await invoke(event(job.id, 'docs/x'))).results[0]?.resultString).toBe('would re-wrap');
    expect(keys.counts).toEqual([]);
    expect(await underOf(vault, 'docs/x')).toEqual({ under: A, named: A });
  });
});

describe('the batch engine end to end over fakes (S3 Batch Operations in memory)', () => {
  /** Today's campaign: V2 and V3, metadata and instruction file, ours and another writer's. */
  async function campaign(vault: MemoryJobObjects) {
    const keys: string[] = [];
    for (const version of [v2, v3])
      for (const instruction of [false, true])
        for (const ours of [false, true]) {
          const key = `docs/${version === v2 ? 'v2' : 'v3'}-${instruction ? 'instr' : 'meta'}-${ours ? 'api' : 'foreign'}`;
          await seed(vault, key, version(A), { instruction, ours });
          keys.push(key);
        }
    await seed(vault, 'docs/under-c', v3(C), { ours: true });
    await seed(vault, 'elsewhere/doc', v3(A), { ours: true });
    return keys;
  }

  it('re-wraps a mixed campaign once each, reads no body, shows succeeded; a second run re-wraps nothing', async () => {
    const { vault, keys, reads, rewrap, batchJobs, invoke, start } = await setup();
    const docs = await campaign(vault);
    const job = await start();
    expect(batchJobs.jobFor(job.id).request).toMatchObject({
      clientRequestToken: job.id,
      description: `eaas re-encryption job ${job.id}`,
      userArguments: { [JOB_ARGUMENT]: job.id },
      manifest: { bucket: VAULT, prefix: 'docs/' },
      report: { bucket: 'eaas-reports', prefix: 'reports/' },
      priority: 10,
    });
    const before = reads.length;
    const ran = await batchJobs.run(job.id, invoke, { twice: true });
    expect(ran).toMatchObject({ status: 'Complete', failed: 0 });
    expect(keys.counts).toEqual(docs.map(() => 1));
    for (const key of docs) expect((await underOf(vault, key)).under, key).toBe(B);
    expect((await underOf(vault, 'docs/under-c')).under).toBe(C);
    expect((await underOf(vault, 'elsewhere/doc')).under).toBe(A);
    const bodies = reads.slice(before).filter((k) => !k.startsWith('jobs/') && !k.endsWith('.instruction'));
    expect(bodies).toEqual([]);
    await rewrap.tick();
    const view = jobView((await rewrap.load(job.id))?.job as never);
    expect(view).toMatchObject({ state: 'succeeded', engine: 'batch' });
    expect(await rewrap.unfinished()).toEqual([]);

    const again = await start();
    await batchJobs.run(again.id, invoke);
    expect(keys.counts).toEqual(docs.map(() => 1));
  });

  it('completes with no failure while KMS throttles every other ReEncrypt (S3 retries the tasks)', async () => {
    const { vault, keys, rewrap, batchJobs, invoke, start } = await setup();
    const docs = await campaign(vault);
    const job = await start();
    let calls = 0;
    const reEncrypt = keys.reEncrypt;
    keys.reEncrypt = async (input) => {
      if (calls++ % 2 === 0) throw new DomainError('Throttled', 'KMS is throttling requests.');
      return reEncrypt(input);
    };
    const ran = await batchJobs.run(job.id, invoke, { attempts: 10 });
    expect(ran.failed).toBe(0);
    expect(keys.counts).toEqual(docs.map(() => 1));
    await rewrap.tick();
    expect((await rewrap.load(job.id))?.job.phase).toBe('succeeded');
  });

  it('a crash mid-task (after the instruction file, before the copy), then S3 retry: readable, re-wrapped once', async () => {
    let crashes = 0;
    const { vault, keys, batchJobs, invoke, start } = await setup({
      step: (name) => {
        if (name === 'instruction-written' && crashes++ % 2 === 0) throw new Error('crash');
      },
    });
    const docs = await campaign(vault);
    const job = await start();
    const ran = await batchJobs.run(job.id, invoke);
    expect(ran.failed).toBe(0);
    expect(crashes).toBeGreaterThan(0);
    expect(keys.counts).toEqual(docs.map(() => 1));
    for (const key of docs) expect(await underOf(vault, key), key).toMatchObject({ under: B });
    // Ours name B in their metadata too: the API reads them with the right key.
    for (const key of docs.filter((k) => k.endsWith('-api')))
      expect(await underOf(vault, key), key).toEqual({ under: B, named: B });
  });

  it('a job cancelled midway, then made again: every object re-wrapped once, nothing lost', async () => {
    const { vault, keys, rewrap, batchJobs, invoke, start } = await setup();
    const docs = await campaign(vault);
    const job = await start();
    const caller = { arn: SCHEDULED_BY };
    // The view's right is checked first: a scheduled job's keys are administered by nobody here,
    // so cancel through the engine as the service would once the caller is allowed.
    rewrap.status = async () => jobView(job) as never;
    const ran = await batchJobs.run(job.id, invoke, {
      beforeTask: async (_key, i) => {
        if (i === 4) await rewrap.cancel(caller, job.id);
      },
    });
    expect(ran.status).toBe('Cancelled');
    expect((await rewrap.load(job.id))?.job.phase).toBe('cancelled');
    // A task S3 still sends after the cancel is refused.
    expect((await invoke(event(job.id, docs[5] as string))).results[0]?.resultString).toMatch(
      /^job refused: /,
    );
    const again = await start();
    await batchJobs.run(again.id, invoke);
    expect(keys.counts).toEqual(docs.map(() => 1));
    for (const key of docs) expect((await underOf(vault, key)).under, key).toBe(B);
  });
});

describe('a cancel that lands while the S3 job is being created', () => {
  /** CreateJob with a cancel of the eaas job landing inside it (after S3 made the job, before the record names it). */
  function cancelDuringCreate(batchJobs: MemoryBatchJobs, rewrap: RewrapService, s3 = { down: false }) {
    const create = batchJobs.create.bind(batchJobs);
    batchJobs.create = async (request) => {
      if (s3.down) throw new DomainError('DependencyFailure', 'S3 Control did not answer.');
      const made = await create(request);
      // The view's right is checked first: nobody administers these keys here.
      rewrap.status = async () => ({}) as never;
      await rewrap.cancel({ arn: SCHEDULED_BY }, request.clientRequestToken);
      return made;
    };
  }

  it('at the start: the S3 job just made is cancelled, not left to run every task to "job refused"', async () => {
    const { vault, batchJobs, rewrap, start } = await setup();
    await seed(vault, 'docs/a', v3(A), { ours: true });
    cancelDuringCreate(batchJobs, rewrap);
    const job = await start();
    expect((await rewrap.load(job.id))?.job.phase).toBe('cancelled');
    expect(batchJobs.jobFor(job.id).status).toBe('Cancelled');
  });

  it('at a tick that makes the S3 job after a failed start: cancelled too', async () => {
    const { vault, batchJobs, rewrap, start } = await setup();
    await seed(vault, 'docs/a', v3(A), { ours: true });
    // S3 Control is down at the start (the engine's retries too): the next tick makes the job.
    const s3 = { down: true };
    cancelDuringCreate(batchJobs, rewrap, s3);
    const job = await start();
    expect(() => batchJobs.jobFor(job.id)).toThrow();
    s3.down = false;
    await rewrap.tick();
    expect((await rewrap.load(job.id))?.job.phase).toBe('cancelled');
    expect(batchJobs.jobFor(job.id).status).toBe('Cancelled');
    // Nothing makes it again once cancelled.
    const creates = batchJobs.creates;
    await rewrap.tick();
    expect(batchJobs.creates).toBe(creates);
  });
});

describe('object keys as S3 Batch Operations encodes them (form style: a space as +)', () => {
  it('decodes + as a space and %2B as +; a key that is not URL-encoded is none', () => {
    expect(decodeTaskKey('docs/a+b.txt')).toBe('docs/a b.txt');
    expect(decodeTaskKey('docs%2Fa%20b.txt')).toBe('docs/a b.txt');
    expect(decodeTaskKey('docs/c%2Bd')).toBe('docs/c+d');
    expect(decodeTaskKey('docs/50%25')).toBe('docs/50%');
    expect(decodeTaskKey('docs/%C3%BC')).toBe('docs/ü');
    expect(decodeTaskKey('docs/%E2')).toBeUndefined();
    for (const key of ['docs/a b.txt', 'docs/c+d', 'docs/50% off', 'docs/ünï cödé/€ +x'])
      expect(decodeTaskKey(encodeTaskKey(key))).toBe(key);
  });

  it('re-wraps documents whose names hold spaces, +, % and unicode, and the report names them as stored', async () => {
    const { vault, keys, rewrap, batchJobs, invoke, start } = await setup();
    const docs = ['docs/a b.txt', 'docs/c+d', 'docs/50% off', 'docs/ünï cödé/€ +x'];
    for (const key of docs) await seed(vault, key, v3(A), { ours: true });
    // One that fails after selection, so that the report's failed keys are read back too.
    await vault.write('docs/too big', 'CIPHERTEXT-BODY', {
      contentType: 'application/octet-stream',
      metadata: {
        ...encodeHeader(v3(A)).metadata,
        [EAAS_METADATA.keyArn]: A,
        [EAAS_METADATA.wrappedAt]: '2020-01-01T00:00:00Z',
      },
    });
    const head = vault.head.bind(vault);
    vault.head = async (key) => {
      const info = await head(key);
      return info && key === 'docs/too big' ? { ...info, size: 6 * 1024 ** 3 } : info;
    };
    const job = await start();
    const ran = await batchJobs.run(job.id, invoke);
    expect(ran).toMatchObject({ status: 'Complete', failed: 1 });
    expect(keys.counts).toEqual(docs.map(() => 1));
    for (const key of docs) expect(await underOf(vault, key), key).toEqual({ under: B, named: B });
    await rewrap.tick();
    const record = (await rewrap.load(job.id))?.job;
    expect(record?.counts).toMatchObject({ rewrapped: 4, failed: { 'too-large-to-copy': 1 } });
    expect(record?.counts.skipped).toEqual({});
    expect(record?.failures).toEqual([{ key: 'docs/too big', reason: 'too-large-to-copy' }]);
  });
});

describe('a batch task cut off between the instruction file and the copy, and its job cancelled meanwhile', () => {
  it("S3's redrive completes the copy (finish-only, no second ReEncrypt); the tasks after it are refused", async () => {
    let cancel: (() => Promise<unknown>) | undefined;
    const { vault, keys, rewrap, batchJobs, invoke, start } = await setup({
      step: async (name, key) => {
        if (name === 'instruction-written' && key === 'docs/b' && cancel) {
          const now = cancel;
          cancel = undefined;
          await now();
          throw new Error('crash');
        }
      },
    });
    for (const key of ['docs/a', 'docs/b', 'docs/c'])
      await seed(vault, key, v3(A), { ours: true, instruction: true });
    const job = await start();
    rewrap.status = async () => jobView(job) as never;
    cancel = () => rewrap.cancel({ arn: SCHEDULED_BY }, job.id);
    // The fake redrives a TemporaryFailure at once (S3 may, for a task already in flight).
    const ran = await batchJobs.run(job.id, invoke);
    expect(ran.status).toBe('Cancelled');
    expect(await underOf(vault, 'docs/a')).toEqual({ under: B, named: B });
    expect(await underOf(vault, 'docs/b')).toEqual({ under: B, named: B });
    expect(await underOf(vault, 'docs/c')).toEqual({ under: A, named: A });
    expect(keys.counts).toEqual([1, 1]);
    // A task of the cancelled job that would start a move is refused.
    expect((await invoke(event(job.id, 'docs/c'))).results[0]?.resultString).toMatch(/^job refused: /);
  });
});

describe('a scheduled job cancelled mid-run', () => {
  it('stops at its page boundary, keeps the counts of the page it was on; a job made again moves the rest', async () => {
    let cancel: (() => Promise<unknown>) | undefined;
    let rewrapped = 0;
    const { vault, keys, rewrap } = await setup({
      runStep: async (name) => {
        // Cancelled while the second page (two documents a page) re-wraps its first document.
        if (name === 're-encrypted' && ++rewrapped === 3) await cancel?.();
      },
    });
    const docs: string[] = [];
    for (let i = 0; i < 8; i++) {
      docs.push(`docs/d${i}`);
      await seed(vault, `docs/d${i}`, v3(A), { ours: true });
    }
    const job = await rewrap.create(spec(), SCHEDULED_BY);
    // The view's right is checked first (rewrap-service.test.ts): nobody administers these keys here.
    rewrap.status = async () => jobView(job) as never;
    cancel = () => rewrap.cancel({ arn: SCHEDULED_BY }, job.id);
    expect(await rewrap.run(job.id)).toBeUndefined();
    const record = (await rewrap.load(job.id))?.job;
    // Two pages done: the first saved by the worker, the second (the cancel landed in it) kept in the cancelled record.
    expect(record).toMatchObject({ phase: 'cancelled', pages: 3, counts: { scanned: 4, rewrapped: 4 } });
    expect(record?.lease).toBeUndefined();
    expect(keys.counts).toEqual([1, 1, 1, 1]);
    expect(await rewrap.unfinished()).toEqual([]);
    // Nothing runs it again; cancelling again answers it as it is.
    expect(await rewrap.run(job.id)).toBeUndefined();
    expect((await rewrap.cancel({ arn: SCHEDULED_BY }, job.id)).state).toBe('cancelled');
    expect(keys.counts).toHaveLength(4);
    cancel = undefined;
    const again = await rewrap.create(spec(), SCHEDULED_BY);
    const done = await rewrap.run(again.id);
    expect(done).toMatchObject({ phase: 'succeeded', counts: { rewrapped: 4, alreadyCurrent: 4 } });
    expect(keys.counts).toEqual(docs.map(() => 1));
    for (const key of docs) expect(await underOf(vault, key), key).toEqual({ under: B, named: B });
  });
});
