import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  CreateMultipartUploadCommand,
  GetBucketCorsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
  PutBucketCorsCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { KEY_USER } from '../../src/identity.js';
import { errorOf } from '../helpers/errors.js';
import { makeDataDir } from '../helpers/local-kms.js';
import { startTestS3, type TestS3 } from '../helpers/local-s3.js';
import { signS3 } from '../helpers/s3-raw.js';

const Bucket = 'eaas-vault';
const MiB = 1024 * 1024;
const running: TestS3[] = [];
/** Data dirs made here (a server given one leaves it in place, for the restart). */
const dataDirs: string[] = [];
afterAll(async () => {
  for (const t of running) await t.stop();
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

async function start(dataDir?: string): Promise<TestS3> {
  const t = await startTestS3(dataDir ? { dataDir } : {});
  running.push(t);
  return t;
}

/** Every file under a folder, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) =>
    statSync(join(dir, f)).isFile(),
  );
}

/** Starts a PUT of `length` bytes, sends `sent` of them, waits until the server holds them, then drops the connection. */
async function abortedPut(
  t: TestS3,
  path: string,
  query: Record<string, string>,
  length: number,
  sent: number,
) {
  const { headers, query: qs } = await signS3({
    endpoint: t.s3.endpoint,
    principal: t.principal(KEY_USER),
    method: 'PUT',
    path,
    query,
    payloadHash: 'UNSIGNED-PAYLOAD',
  });
  const url = new URL(t.s3.endpoint);
  const req = httpRequest({
    host: url.hostname,
    port: url.port,
    method: 'PUT',
    path: qs ? `${path}?${qs}` : path,
    headers: { ...headers, 'content-length': String(length) },
  });
  req.on('error', () => undefined);
  req.write(randomBytes(sent));
  const scratch = join(t.dataDir, 's3', 'tmp');
  await expect.poll(() => filesUnder(scratch).map((f) => statSync(join(scratch, f)).size)).toEqual([sent]);
  req.destroy();
  await expect.poll(() => filesUnder(scratch)).toEqual([]);
}

describe('durability of the local S3', () => {
  it('a client that aborts mid-upload leaves no object and no temporary file', async () => {
    const t = await start();
    const s3 = t.client();
    await s3.send(new PutObjectCommand({ Bucket, Key: 'kept', Body: 'old version' }));
    await abortedPut(t, `/${Bucket}/kept`, {}, 4 * MiB, 256 * 1024);
    await abortedPut(t, `/${Bucket}/new`, {}, 4 * MiB, 100_000);
    expect((await errorOf(s3.send(new HeadObjectCommand({ Bucket, Key: 'new' })))).status).toBe(404);
    const kept = await s3.send(new GetObjectCommand({ Bucket, Key: 'kept' }));
    expect(await kept.Body?.transformToString()).toBe('old version');
    // The server is still fine on new connections.
    await s3.send(new PutObjectCommand({ Bucket, Key: 'after', Body: 'after' }));
  });

  it('an aborted part upload adds no part', async () => {
    const t = await start();
    const s3 = t.client();
    const { UploadId = '' } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'mp' }));
    await abortedPut(t, `/${Bucket}/mp`, { partNumber: '1', uploadId: UploadId }, 6 * MiB, 300_000);
    expect((await s3.send(new ListPartsCommand({ Bucket, Key: 'mp', UploadId }))).Parts ?? []).toEqual([]);
  });

  it('keeps objects, metadata, CORS and open uploads across a restart, and clears what a crash left', async () => {
    const dataDir = makeDataDir();
    dataDirs.push(dataDir);
    const first = await start(dataDir);
    const s3 = first.client();
    await s3.send(
      new PutObjectCommand({ Bucket, Key: '../../escape', Body: 'persisted', Metadata: { a: 'b' } }),
    );
    await s3.send(
      new PutBucketCorsCommand({
        Bucket,
        CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['*'], AllowedMethods: ['GET'] }] },
      }),
    );
    const { UploadId = '' } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'open' }));
    await s3.send(new UploadPartCommand({ Bucket, Key: 'open', UploadId, PartNumber: 1, Body: 'part one' }));
    await first.stop();
    running.splice(running.indexOf(first), 1);

    // No key ever becomes a path: the object is stored under the hash of its key.
    const s3Dir = join(dataDir, 's3');
    expect(filesUnder(s3Dir).some((f) => f.includes('escape'))).toBe(false);
    // What a crash between steps would leave: an unreferenced body, a half-written sidecar, a scratch file.
    const objectDir = join(s3Dir, 'buckets', Bucket, 'objects');
    const sub = readdirSync(objectDir)[0] ?? '';
    writeFileSync(join(objectDir, sub, `${'f'.repeat(64)}.0123456789abcdef.body`), 'orphan');
    writeFileSync(join(objectDir, sub, `${'f'.repeat(64)}.json.1.abc.tmp`), '{');
    writeFileSync(join(s3Dir, 'tmp', 'left-over.part'), 'partial');

    const second = await start(dataDir);
    const again = second.client();
    const got = await again.send(new GetObjectCommand({ Bucket, Key: '../../escape' }));
    expect(await got.Body?.transformToString()).toBe('persisted');
    expect(got.Metadata).toEqual({ a: 'b' });
    expect((await again.send(new GetBucketCorsCommand({ Bucket }))).CORSRules).toHaveLength(1);
    expect(
      (await again.send(new ListPartsCommand({ Bucket, Key: 'open', UploadId }))).Parts?.map((p) => p.Size),
    ).toEqual([8]);
    const left = filesUnder(s3Dir);
    expect(left.some((f) => f.includes('f'.repeat(64)) || f.endsWith('.part'))).toBe(false);
    expect(readFileSync(join(s3Dir, 'buckets', Bucket, 'bucket.json'), 'utf8')).toContain(Bucket);
  });

  it('streams a 128 MiB object up and down without holding it in memory', async () => {
    const t = await start();
    const s3 = t.client();
    const size = 128 * MiB;
    const block = randomBytes(MiB);
    const source = () =>
      Readable.from(
        (function* blocks() {
          for (let i = 0; i < size / MiB; i++) yield block;
        })(),
      );
    const baseline = process.memoryUsage();
    let peak = 0;
    const sample = setInterval(() => {
      const m = process.memoryUsage();
      peak = Math.max(peak, m.heapUsed + m.arrayBuffers - (baseline.heapUsed + baseline.arrayBuffers));
    }, 5);
    try {
      await s3.send(new PutObjectCommand({ Bucket, Key: 'large', Body: source(), ContentLength: size }));
      const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'large' }));
      let received = 0;
      for await (const chunk of got.Body as Readable) received += (chunk as Buffer).length;
      expect(received).toBe(size);
    } finally {
      clearInterval(sample);
    }
    // Holding the object would take 128 MiB at least; streaming keeps a few buffers (and garbage not yet collected).
    expect(peak).toBeLessThan(64 * MiB);
  }, 60_000);
});
