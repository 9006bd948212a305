import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { S3EventRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf } from '../helpers/errors.js';
import { startTestS3, type TestS3 } from '../helpers/local-s3.js';

let t: TestS3;
let s3: S3Client;
const events: S3EventRecord[] = [];
const Bucket = 'eaas-staging';
const MiB = 1024 * 1024;
const md5 = (data: Buffer) => createHash('md5').update(data).digest();

beforeAll(async () => {
  t = await startTestS3({ onObjectCreated: (record) => void events.push(record) });
  s3 = t.client();
});
afterAll(async () => {
  await t.stop();
});

async function create(Key: string) {
  const out = await s3.send(
    new CreateMultipartUploadCommand({ Bucket, Key, ContentType: 'application/pdf', Metadata: { m: 'v' } }),
  );
  return out.UploadId ?? '';
}

async function part(Key: string, UploadId: string, PartNumber: number, Body: Buffer) {
  const out = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body }));
  return { PartNumber, ETag: out.ETag ?? '' };
}

describe('multipart uploads', () => {
  it('create, upload parts (one replaced), list parts, complete: one object with S3’s multipart ETag', async () => {
    const Key = 'uploads/report 2026.pdf';
    const one = randomBytes(5 * MiB);
    const two = randomBytes(5 * MiB + 123);
    const three = randomBytes(1000);
    const UploadId = await create(Key);
    const p1 = await part(Key, UploadId, 1, randomBytes(5 * MiB));
    const p3 = await part(Key, UploadId, 3, three);
    const p2 = await part(Key, UploadId, 2, two);
    const p1again = await part(Key, UploadId, 1, one);
    expect(p1again.ETag).not.toBe(p1.ETag);
    expect(p2.ETag).toBe(`"${md5(two).toString('hex')}"`);

    const listed = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId }));
    expect(listed.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size])).toEqual([
      [1, p1again.ETag, one.length],
      [2, p2.ETag, two.length],
      [3, p3.ETag, three.length],
    ]);
    const page = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId, MaxParts: 2 }));
    expect(page).toMatchObject({ IsTruncated: true, NextPartNumberMarker: '2' });

    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: { Parts: [p1again, p2, p3] },
      }),
    );
    const expected = `"${createHash('md5')
      .update(Buffer.concat([md5(one), md5(two), md5(three)]))
      .digest('hex')}-3"`;
    expect(done.ETag).toBe(expected);

    const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
    const body = Buffer.from((await got.Body?.transformToByteArray()) ?? []);
    expect(body.equals(Buffer.concat([one, two, three]))).toBe(true);
    expect(got).toMatchObject({ ETag: expected, ContentType: 'application/pdf', Metadata: { m: 'v' } });

    // The upload is gone once completed.
    expect(await errorOf(s3.send(new ListPartsCommand({ Bucket, Key, UploadId })))).toMatchObject({
      name: 'NoSuchUpload',
      status: 404,
    });
    await t.s3.notificationsDelivered();
    const created = events.filter((e) => e.eventName === 'ObjectCreated:CompleteMultipartUpload');
    expect(created).toHaveLength(1);
    expect(created[0]?.s3.object).toMatchObject({
      key: 'uploads/report+2026.pdf',
      size: body.length,
      eTag: expected.slice(1, -1),
    });
  });

  it('parts PUT through presigned URLs, as the upload page sends them, complete the object', async () => {
    const Key = 'uploads/from-browser.bin';
    const UploadId = await create(Key);
    const bodies = [randomBytes(5 * MiB), randomBytes(4096)];
    const parts = [];
    for (const [i, body] of bodies.entries()) {
      const url = await getSignedUrl(
        s3,
        new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1 }),
        {
          expiresIn: 300,
        },
      );
      const res = await fetch(url, { method: 'PUT', body });
      expect(res.status).toBe(200);
      parts.push({ PartNumber: i + 1, ETag: res.headers.get('etag') ?? '' });
    }
    await s3.send(
      new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }),
    );
    const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
    expect(Buffer.from((await got.Body?.transformToByteArray()) ?? []).equals(Buffer.concat(bodies))).toBe(
      true,
    );
  });

  it('abort leaves nothing: no object, no upload, no part files', async () => {
    const Key = 'uploads/aborted';
    const UploadId = await create(Key);
    await part(Key, UploadId, 1, randomBytes(1000));
    await s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
    expect((await errorOf(s3.send(new HeadObjectCommand({ Bucket, Key })))).status).toBe(404);
    expect(
      await errorOf(s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 2, Body: 'x' }))),
    ).toMatchObject({
      name: 'NoSuchUpload',
    });
    expect(await errorOf(s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })))).toMatchObject({
      name: 'NoSuchUpload',
      status: 404,
    });
    const uploadsDir = join(t.dataDir, 's3', 'uploads');
    await expect.poll(() => readdirSync(uploadsDir).filter((d) => d === UploadId)).toEqual([]);
  });

  it('refuses a part list out of order, with an unknown ETag, or with a small non-last part', async () => {
    const Key = 'uploads/refused';
    const UploadId = await create(Key);
    const small = await part(Key, UploadId, 1, randomBytes(1024));
    const big = await part(Key, UploadId, 2, randomBytes(5 * MiB));
    const complete = (Parts: Array<{ PartNumber: number; ETag: string }>) =>
      errorOf(
        s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } })),
      );
    expect(await complete([big, small])).toMatchObject({ name: 'InvalidPartOrder', status: 400 });
    expect(await complete([{ PartNumber: 1, ETag: '"00000000000000000000000000000000"' }])).toMatchObject({
      name: 'InvalidPart',
      status: 400,
    });
    expect(await complete([{ PartNumber: 7, ETag: small.ETag }])).toMatchObject({ name: 'InvalidPart' });
    expect(await complete([small, big])).toMatchObject({ name: 'EntityTooSmall', status: 400 });
    // Refusals leave the upload open: the right list completes it.
    await s3.send(
      new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: [big] } }),
    );
    expect((await s3.send(new HeadObjectCommand({ Bucket, Key }))).ContentLength).toBe(5 * MiB);
  });

  it('refuses a part number outside 1..10000 and an unknown upload id', async () => {
    const Key = 'uploads/numbers';
    const UploadId = await create(Key);
    for (const PartNumber of [0, 10001]) {
      expect(
        await errorOf(s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: 'x' }))),
      ).toMatchObject({
        name: 'InvalidArgument',
        status: 400,
      });
    }
    expect(
      await errorOf(
        s3.send(new UploadPartCommand({ Bucket, Key, UploadId: 'nope', PartNumber: 1, Body: 'x' })),
      ),
    ).toMatchObject({ name: 'NoSuchUpload', status: 404 });
    // An upload id is bound to its key.
    expect(
      await errorOf(
        s3.send(new UploadPartCommand({ Bucket, Key: 'uploads/other', UploadId, PartNumber: 1, Body: 'x' })),
      ),
    ).toMatchObject({ name: 'NoSuchUpload' });
  });

  it('a completion with If-None-Match: * does not overwrite an existing object', async () => {
    const Key = 'uploads/exists';
    const first = await create(Key);
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId: first,
        MultipartUpload: { Parts: [await part(Key, first, 1, Buffer.from('first'))] },
      }),
    );
    const second = await create(Key);
    const p = await part(Key, second, 1, Buffer.from('second'));
    expect(
      await errorOf(
        s3.send(
          new CompleteMultipartUploadCommand({
            Bucket,
            Key,
            UploadId: second,
            IfNoneMatch: '*',
            MultipartUpload: { Parts: [p] },
          }),
        ),
      ),
    ).toMatchObject({ name: 'PreconditionFailed', status: 412 });
    const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
    expect(await got.Body?.transformToString()).toBe('first');
  });
});
