import { randomBytes } from 'node:crypto';
import { KEY_MANAGER, KEY_USER, SERVICE } from '@eaas/aws-local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KmsKeyAdmin } from '../../src/aws/kms-admin.js';
import { S3JobObjects } from '../../src/aws/s3-jobs.js';
import { JOB_ARGUMENT, type S3BatchEventV2 } from '../../src/core/rewrap-batch.js';
import type { JobSpec } from '../../src/core/rewrap-job.js';
import { AccessControl } from '../../src/services/access.js';
import { RewrapBatchTasks } from '../../src/services/rewrap-batch-task.js';
import { MemoryBatchJobs } from '../fakes/batch-jobs.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';
import { createJobKey, putDocument, unwrapKeyOf, workerFor } from './jobs-fixtures.js';

/**
 * A document whose header is in an instruction file takes two writes to re-wrap: the instruction
 * file (onto the destination, marked `eaas-rewrap-of` the object's ETag), then the object's
 * metadata. A job cut off between the two and then cancelled (so that nothing completes the copy)
 * leaves the metadata naming the source key while the data key is under the destination. Every
 * such interleaving, on both engines, must leave the document readable through the API, by the
 * callers allowed under the key its data key is now under; a job made again completes the copy,
 * counting it as the earlier job's when it names another destination.
 */

let t: TestStack;
let keyA: string;
let keyB: string;
let keyC: string;
const arn = (name: string) => `arn:aws:iam::${t.config.accountId}:user/${name}`;
const bigContext = { tenant: 'acme', a: 'x'.repeat(1000), b: 'y'.repeat(1000) };
class Crash extends Error {}

const spec = (prefix: string, destinationKeyArn = keyB): JobSpec => ({
  mode: 'source-key',
  sourceKeyArn: keyA,
  destinationKeyArn,
  prefix,
  dryRun: false,
  concurrency: 1,
});

async function readBack(key: string) {
  return t.client(KEY_USER).rawBytes('GET', `/v1/objects/${encodeURIComponent(key)}`);
}
async function metadataOf(key: string) {
  const res = await t.client(KEY_USER).raw('GET', `/v1/objects/${encodeURIComponent(key)}`, undefined, {
    metadata: '',
  });
  return res.body as { keyId?: string; instructionFile?: boolean };
}
const under = (key: string) => unwrapKeyOf(t.kms(KEY_USER), t.s3(SERVICE), t.config.vaultBucket, key);

beforeAll(async () => {
  t = await startTestStack({ env: { EAAS_REWRAP_TICK_SECONDS: '0' } });
  const keyOf = () =>
    createJobKey(t, { administrators: [arn(KEY_MANAGER)], users: [arn(KEY_USER)], description: 'half done' });
  keyA = await keyOf();
  keyB = await keyOf();
  keyC = await keyOf();
}, 60_000);
afterAll(() => t?.stop());

describe('a scheduled job killed between the instruction file and the copy, then cancelled', () => {
  it('leaves the document readable (under B); a job made again to C completes the copy as the earlier job’s', async () => {
    const body = randomBytes(300);
    await putDocument(t, 'half/doc', body, keyA, bigContext);
    expect(await metadataOf('half/doc')).toMatchObject({ keyId: keyA, instructionFile: true });
    const worker = workerFor(t, {
      step: (name) => {
        if (name === 'instruction-written') throw new Crash('killed between the two writes');
      },
    });
    const job = await worker.create(spec('half/'), arn(KEY_MANAGER));
    await expect(worker.run(job.id)).rejects.toBeInstanceOf(Crash);
    expect((await t.client(KEY_MANAGER).jobs.cancel(job.id)).state).toBe('cancelled');
    await t.stack.rewrap.tick();
    // Half done for good: the data key under B, the metadata still naming A.
    expect(await under('half/doc')).toBe(keyB);
    const got = await readBack('half/doc');
    expect(got.status).toBe(200);
    expect(Buffer.from(got.bytes)).toEqual(body);
    expect(await metadataOf('half/doc')).toMatchObject({ keyId: keyB });

    // A job made again from A to C: the copy is completed onto B (where the data key is) and
    // counted as the earlier job's, not as a move to C.
    const again = workerFor(t, {});
    const second = await again.create(spec('half/', keyC), arn(KEY_MANAGER));
    const done = await again.run(second.id);
    expect(done?.counts).toMatchObject({
      rewrapped: 0,
      skipped: { 'finished-for-another-job': 1 },
      failed: {},
    });
    expect(await under('half/doc')).toBe(keyB);
    expect(Buffer.from((await readBack('half/doc')).bytes)).toEqual(body);
    expect(await metadataOf('half/doc')).toMatchObject({ keyId: keyB });
  });
});

describe('the reader of a half-done document', () => {
  it('checks the caller on the key the data key is under: a user of A alone reads it as missing', async () => {
    const keyD = await createJobKey(t, {
      administrators: [arn(KEY_MANAGER)],
      users: [],
      description: 'no users',
    });
    await putDocument(t, 'half-d/doc', randomBytes(100), keyA, bigContext);
    expect((await readBack('half-d/doc')).status).toBe(200);
    const worker = workerFor(t, {
      step: (name) => {
        if (name === 'instruction-written') throw new Crash('killed between the two writes');
      },
    });
    const job = await worker.create(spec('half-d/', keyD), arn(KEY_MANAGER));
    await expect(worker.run(job.id)).rejects.toBeInstanceOf(Crash);
    await t.client(KEY_MANAGER).jobs.cancel(job.id);
    // The data key is no longer under A: myKeyUser's own KMS Decrypt is refused on D.
    await expect(under('half-d/doc')).rejects.toThrow(/not authorized to perform: kms:Decrypt/);
    // myKeyUser may decrypt under A (which the metadata still names), not under D: as if missing.
    const got = await t.client(KEY_USER).raw('GET', `/v1/objects/${encodeURIComponent('half-d/doc')}`);
    expect(got.status).toBe(404);
    expect(got.body).toMatchObject({ error: 'NotFound' });
  });
});

describe('a batch task killed between the instruction file and the copy, then its job cancelled', () => {
  it('S3 redrives the task: the cancelled job completes the copy (finish only); other tasks are refused', async () => {
    const bodies = new Map<string, Buffer>();
    for (const key of ['batch-half/a', 'batch-half/b']) {
      const body = randomBytes(200);
      await putDocument(t, key, body, keyA, bigContext);
      bodies.set(key, body);
    }
    const vault = new S3JobObjects(t.stack.serviceS3, t.config.vaultBucket);
    const batchJobs = new MemoryBatchJobs(vault, vault);
    const rewrap = workerFor(t, {
      batch: {
        jobs: batchJobs,
        functionArn: `arn:aws:lambda:${t.config.region}:${t.config.accountId}:function:eaas-local-rewrapbatch`,
        roleArn: `arn:aws:iam::${t.config.accountId}:role/eaas-local-batch-operations`,
        vaultBucket: t.config.vaultBucket,
        objectPrefix: t.config.objectPrefix,
        report: { bucket: t.config.vaultBucket, prefix: 'jobs/batch-reports/' },
        reports: vault,
        priority: 10,
        threshold: 100_000,
        retry: { baseMs: 1, maxMs: 5 },
      },
    });
    let crashed = false;
    const admin = new KmsKeyAdmin(t.stack.serviceKms);
    const tasks = new RewrapBatchTasks(
      admin,
      new AccessControl(admin),
      new S3JobObjects(t.stack.serviceS3, t.config.vaultBucket, t.config.objectPrefix),
      rewrap,
      {
        vaultBucket: t.config.vaultBucket,
        objectPrefix: t.config.objectPrefix,
        retry: { baseMs: 1, maxMs: 5 },
        authorityMs: 0,
        step: (name) => {
          if (name === 'instruction-written' && !crashed) {
            crashed = true;
            throw new Crash('killed between the two writes');
          }
        },
      },
    );
    const job = await rewrap.create(spec('batch-half/'), arn(KEY_MANAGER), undefined, undefined, undefined, {
      engine: 'batch',
      choice: 'batch',
    });
    const event = (key: string): S3BatchEventV2 => ({
      invocationSchemaVersion: '2.0',
      invocationId: 'inv',
      job: { id: 's3job', userArguments: { [JOB_ARGUMENT]: job.id } },
      tasks: [
        {
          taskId: 't',
          s3Bucket: t.config.vaultBucket,
          s3Key: encodeURIComponent(`${t.config.objectPrefix}${key}`),
          s3VersionId: null,
        },
      ],
    });
    const first = await tasks.handle(event('batch-half/a'));
    expect(first.results[0]).toMatchObject({
      resultCode: 'TemporaryFailure',
      resultString: 'retry: InternalError',
    });
    // Cut off and cancelled before S3 redrives it: readable all the same.
    expect((await t.client(KEY_MANAGER).jobs.cancel(job.id)).state).toBe('cancelled');
    expect(await under('batch-half/a')).toBe(keyB);
    expect(Buffer.from((await readBack('batch-half/a')).bytes)).toEqual(bodies.get('batch-half/a'));
    // S3's redrive of that task completes the copy; a task not begun is refused.
    const redrive = await tasks.handle(event('batch-half/a'));
    expect(redrive.results[0]).toMatchObject({ resultCode: 'Succeeded', resultString: 'rewrapped' });
    const other = await tasks.handle(event('batch-half/b'));
    expect(other.results[0]?.resultString).toMatch(/^job refused: /);
    expect(await under('batch-half/b')).toBe(keyA);
    for (const [key, body] of bodies) {
      expect(Buffer.from((await readBack(key)).bytes), key).toEqual(body);
    }
    expect(await metadataOf('batch-half/a')).toMatchObject({ keyId: keyB });
    expect(await metadataOf('batch-half/b')).toMatchObject({ keyId: keyA });
    // The object's own metadata now names B too (the copy happened, not only the reader's fallback).
    const head = await vault.head(`${t.config.objectPrefix}batch-half/a`);
    expect(head?.metadata['eaas-key-arn']).toBe(keyB);
  });
});
