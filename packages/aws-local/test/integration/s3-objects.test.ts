import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  type ChecksumAlgorithm,
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf } from '../helpers/errors.js';
import { startTestS3, type TestS3 } from '../helpers/local-s3.js';

let t: TestS3;
let s3: S3Client;
const Bucket = 'eaas-vault';
const md5 = (data: string | Buffer) => createHash('md5').update(data).digest('hex');

beforeAll(async () => {
  t = await startTestS3();
  s3 = t.client();
});
afterAll(async () => {
  await t.stop();
});

async function text(Key: string, extra: Partial<ConstructorParameters<typeof GetObjectCommand>[0]> = {}) {
  const out = await s3.send(new GetObjectCommand({ Bucket, Key, ...extra }));
  return { out, body: (await out.Body?.transformToString('utf8')) ?? '' };
}

describe('objects: put, get, head, delete', () => {
  it('round-trips a body with its content type, content headers and user metadata', async () => {
    const put = await s3.send(
      new PutObjectCommand({
        Bucket,
        Key: 'docs/hello.txt',
        Body: 'hello, world',
        ContentType: 'text/plain; charset=utf-8',
        ContentDisposition: 'attachment; filename="hello.txt"',
        CacheControl: 'no-cache',
        Metadata: { tenant: 'acme', 'eaas-owner': 'arn:aws:iam::111122223333:user/myKeyUser' },
      }),
    );
    expect(put.ETag).toBe(`"${md5('hello, world')}"`);

    const { out, body } = await text('docs/hello.txt');
    expect(body).toBe('hello, world');
    expect(out).toMatchObject({
      ContentType: 'text/plain; charset=utf-8',
      ContentDisposition: 'attachment; filename="hello.txt"',
      CacheControl: 'no-cache',
      ContentLength: 12,
      ETag: put.ETag,
      Metadata: { tenant: 'acme', 'eaas-owner': 'arn:aws:iam::111122223333:user/myKeyUser' },
    });

    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'docs/hello.txt' }));
    expect(head).toMatchObject({ ContentLength: 12, ETag: put.ETag, Metadata: { tenant: 'acme' } });
    expect(head.LastModified).toBeInstanceOf(Date);
  });

  it('stores keys with spaces, unicode, ../ and % under exactly that key, nowhere else', async () => {
    const keys = [
      'with space.txt',
      'ünïcødé/文件 🙂.txt',
      '../../etc/passwd',
      'a/../b',
      '100%/%2F%zz',
      '+plus+',
      'tab\tkey',
    ];
    for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket, Key, Body: `body of ${Key}` }));
    for (const Key of keys) expect((await text(Key)).body).toBe(`body of ${Key}`);
    expect((await errorOf(s3.send(new HeadObjectCommand({ Bucket, Key: 'etc/passwd' })))).status).toBe(404);
    for (const Key of keys) await s3.send(new DeleteObjectCommand({ Bucket, Key }));
  });

  it('answers NoSuchKey (404) for a missing key and NoSuchBucket (404) for a missing bucket', async () => {
    expect(await errorOf(s3.send(new GetObjectCommand({ Bucket, Key: 'missing' })))).toMatchObject({
      name: 'NoSuchKey',
      status: 404,
    });
    expect(await errorOf(s3.send(new HeadObjectCommand({ Bucket, Key: 'missing' })))).toMatchObject({
      status: 404,
    });
    expect(
      await errorOf(s3.send(new GetObjectCommand({ Bucket: 'no-such-bucket', Key: 'x' }))),
    ).toMatchObject({
      name: 'NoSuchBucket',
      status: 404,
    });
  });

  it('deletes with 204, idempotently', async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'gone', Body: 'x' }));
    expect((await s3.send(new DeleteObjectCommand({ Bucket, Key: 'gone' }))).$metadata.httpStatusCode).toBe(
      204,
    );
    expect((await s3.send(new DeleteObjectCommand({ Bucket, Key: 'gone' }))).$metadata.httpStatusCode).toBe(
      204,
    );
    expect((await errorOf(s3.send(new GetObjectCommand({ Bucket, Key: 'gone' })))).name).toBe('NoSuchKey');
  });

  it('DeleteObjects removes many keys at once and reports each', async () => {
    const keys = ['batch/1', 'batch/2', 'batch/3'];
    for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket, Key, Body: Key }));
    const out = await s3.send(
      new DeleteObjectsCommand({
        Bucket,
        Delete: { Objects: [...keys, 'batch/never'].map((Key) => ({ Key })) },
      }),
    );
    expect(out.Deleted?.map((d) => d.Key)).toEqual([...keys, 'batch/never']);
    for (const Key of keys)
      expect((await errorOf(s3.send(new HeadObjectCommand({ Bucket, Key })))).status).toBe(404);
  });

  it.each(['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as ChecksumAlgorithm[])(
    'checks and keeps a %s checksum, which the SDK then validates on GET',
    async (ChecksumAlgorithm) => {
      const Key = `checksum/${ChecksumAlgorithm}`;
      const put = await s3.send(
        new PutObjectCommand({ Bucket, Key, Body: 'checked bytes', ChecksumAlgorithm }),
      );
      const field = `Checksum${ChecksumAlgorithm}` as const;
      expect(put[field]).toMatch(/^[A-Za-z0-9+/]+=*$/);
      const got = await s3.send(new GetObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }));
      expect(got[field]).toBe(put[field]);
      expect(await got.Body?.transformToString()).toBe('checked bytes');
    },
  );

  it('refuses a stream shorter than its ContentLength with IncompleteBody, storing nothing', async () => {
    const body = Readable.from([Buffer.from('short')]);
    expect(
      await errorOf(s3.send(new PutObjectCommand({ Bucket, Key: 'short', Body: body, ContentLength: 10 }))),
    ).toMatchObject({ status: 400 });
    expect((await errorOf(s3.send(new HeadObjectCommand({ Bucket, Key: 'short' })))).status).toBe(404);
  });

  it('refuses user metadata over 2 KB with MetadataTooLarge', async () => {
    const err = await errorOf(
      s3.send(
        new PutObjectCommand({ Bucket, Key: 'big-meta', Body: 'x', Metadata: { a: 'v'.repeat(2048) } }),
      ),
    );
    expect(err).toMatchObject({ name: 'MetadataTooLarge', status: 400 });
  });

  it('takes a stream body with a known length (aws-chunked with a CRC32 trailer, the SDK default)', async () => {
    const body = Readable.from([Buffer.from('streamed '), Buffer.from('in '), Buffer.from('chunks')]);
    const put = await s3.send(
      new PutObjectCommand({ Bucket, Key: 'streamed', Body: body, ContentLength: 18 }),
    );
    expect(put.ETag).toBe(`"${md5('streamed in chunks')}"`);
    expect((await text('streamed')).body).toBe('streamed in chunks');
  });
});

describe('Range', () => {
  beforeAll(async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'digits', Body: '0123456789' }));
  });

  it.each([
    ['bytes=2-5', '2345', 'bytes 2-5/10'],
    ['bytes=7-', '789', 'bytes 7-9/10'],
    ['bytes=-3', '789', 'bytes 7-9/10'],
    ['bytes=8-100', '89', 'bytes 8-9/10'],
    ['bytes=-100', '0123456789', 'bytes 0-9/10'],
  ])('%s answers 206 with %s', async (Range, expected, contentRange) => {
    const { out, body } = await text('digits', { Range });
    expect(out.$metadata.httpStatusCode).toBe(206);
    expect(body).toBe(expected);
    expect(out.ContentRange).toBe(contentRange);
    expect(out.ContentLength).toBe(expected.length);
  });

  it('a range past the end is InvalidRange (416)', async () => {
    expect(await errorOf(text('digits', { Range: 'bytes=10-' }))).toMatchObject({
      name: 'InvalidRange',
      status: 416,
    });
  });

  it('a malformed or multiple range is ignored (200, the whole object), as S3 does', async () => {
    for (const Range of ['bytes=5-2', 'bytes=0-1,4-5', 'items=0-1']) {
      const { out, body } = await text('digits', { Range });
      expect(out.$metadata.httpStatusCode).toBe(200);
      expect(body).toBe('0123456789');
    }
  });
});

describe('conditional requests', () => {
  let etag: string;
  beforeAll(async () => {
    etag = (await s3.send(new PutObjectCommand({ Bucket, Key: 'cond', Body: 'v1' }))).ETag ?? '';
  });

  it('GET with If-Match: the ETag serves, another is PreconditionFailed (412)', async () => {
    expect((await text('cond', { IfMatch: etag })).body).toBe('v1');
    expect(await errorOf(text('cond', { IfMatch: '"0123"' }))).toMatchObject({
      name: 'PreconditionFailed',
      status: 412,
    });
  });

  it('GET with If-None-Match: the ETag is NotModified (304), another serves', async () => {
    expect(await errorOf(text('cond', { IfNoneMatch: etag }))).toMatchObject({ status: 304 });
    expect((await text('cond', { IfNoneMatch: '"0123"' })).body).toBe('v1');
  });

  it('GET with If-Modified-Since / If-Unmodified-Since', async () => {
    const future = new Date(Date.now() + 3_600_000);
    const past = new Date(Date.now() - 3_600_000);
    expect(await errorOf(text('cond', { IfModifiedSince: future }))).toMatchObject({ status: 304 });
    expect((await text('cond', { IfModifiedSince: past })).body).toBe('v1');
    expect(await errorOf(text('cond', { IfUnmodifiedSince: past }))).toMatchObject({ status: 412 });
  });

  it('PUT with If-None-Match: * creates once, then is PreconditionFailed', async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'create-once', Body: 'first', IfNoneMatch: '*' }));
    const err = await errorOf(
      s3.send(new PutObjectCommand({ Bucket, Key: 'create-once', Body: 'second', IfNoneMatch: '*' })),
    );
    expect(err).toMatchObject({ name: 'PreconditionFailed', status: 412 });
    expect((await text('create-once')).body).toBe('first');
  });

  it('PUT with If-Match replaces only the version named; a missing object is NoSuchKey', async () => {
    const v2 = await s3.send(new PutObjectCommand({ Bucket, Key: 'cond', Body: 'v2', IfMatch: etag }));
    expect(
      await errorOf(s3.send(new PutObjectCommand({ Bucket, Key: 'cond', Body: 'v3', IfMatch: etag }))),
    ).toMatchObject({
      name: 'PreconditionFailed',
      status: 412,
    });
    expect((await text('cond')).body).toBe('v2');
    etag = v2.ETag ?? '';
    expect(
      await errorOf(s3.send(new PutObjectCommand({ Bucket, Key: 'never-was', Body: 'x', IfMatch: etag }))),
    ).toMatchObject({ status: 404 });
  });

  it('DELETE with a wrong If-Match is PreconditionFailed and keeps the object', async () => {
    expect(
      await errorOf(s3.send(new DeleteObjectCommand({ Bucket, Key: 'cond', IfMatch: '"0123"' }))),
    ).toMatchObject({
      status: 412,
    });
    expect((await text('cond')).body).toBe('v2');
  });
});

describe('CopyObject', () => {
  it('in place with REPLACE changes the metadata and keeps the bytes and the ETag', async () => {
    const put = await s3.send(
      new PutObjectCommand({ Bucket, Key: 'rewrap', Body: 'document', Metadata: { 'x-amz-key-v2': 'old' } }),
    );
    const copied = await s3.send(
      new CopyObjectCommand({
        Bucket,
        Key: 'rewrap',
        CopySource: `${Bucket}/rewrap`,
        CopySourceIfMatch: put.ETag,
        MetadataDirective: 'REPLACE',
        Metadata: { 'x-amz-key-v2': 'new' },
        ContentType: 'application/octet-stream',
      }),
    );
    expect(copied.CopyObjectResult?.ETag).toBe(put.ETag);
    const { out, body } = await text('rewrap');
    expect(body).toBe('document');
    expect(out.Metadata).toEqual({ 'x-amz-key-v2': 'new' });
  });

  it('with a wrong CopySourceIfMatch is PreconditionFailed (412) and leaves the object unchanged', async () => {
    const before = await s3.send(new HeadObjectCommand({ Bucket, Key: 'rewrap' }));
    const err = await errorOf(
      s3.send(
        new CopyObjectCommand({
          Bucket,
          Key: 'rewrap',
          CopySource: `${Bucket}/rewrap`,
          CopySourceIfMatch: '"00000000000000000000000000000000"',
          MetadataDirective: 'REPLACE',
          Metadata: { 'x-amz-key-v2': 'clobbered' },
        }),
      ),
    );
    expect(err).toMatchObject({ name: 'PreconditionFailed', status: 412 });
    const after = await s3.send(new HeadObjectCommand({ Bucket, Key: 'rewrap' }));
    expect(after.Metadata).toEqual(before.Metadata);
    expect(after.LastModified).toEqual(before.LastModified);
  });

  it('with a matching CopySourceIfNoneMatch is PreconditionFailed', async () => {
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'rewrap' }));
    const err = await errorOf(
      s3.send(
        new CopyObjectCommand({
          Bucket,
          Key: 'rewrap',
          CopySource: `${Bucket}/rewrap`,
          CopySourceIfNoneMatch: head.ETag,
          MetadataDirective: 'REPLACE',
        }),
      ),
    );
    expect(err).toMatchObject({ name: 'PreconditionFailed', status: 412 });
  });

  it('in place without REPLACE is refused, as S3 refuses it', async () => {
    const err = await errorOf(
      s3.send(new CopyObjectCommand({ Bucket, Key: 'rewrap', CopySource: `${Bucket}/rewrap` })),
    );
    expect(err).toMatchObject({ name: 'InvalidRequest', status: 400 });
    expect(err.message).toContain('copy an object to itself');
  });

  it('to another key and bucket copies metadata (COPY) and keeps the ETag; the source is untouched', async () => {
    const put = await s3.send(
      new PutObjectCommand({
        Bucket,
        Key: 'src/a b.txt',
        Body: 'copy me',
        ContentType: 'text/plain',
        Metadata: { m: '1' },
      }),
    );
    await s3.send(
      new CopyObjectCommand({
        Bucket: 'eaas-staging',
        Key: 'dst.txt',
        CopySource: `${Bucket}/${encodeURIComponent('src/a b.txt')}`,
      }),
    );
    const copy = await s3.send(new GetObjectCommand({ Bucket: 'eaas-staging', Key: 'dst.txt' }));
    expect(await copy.Body?.transformToString()).toBe('copy me');
    expect(copy).toMatchObject({ ETag: put.ETag, ContentType: 'text/plain', Metadata: { m: '1' } });
    // The copy shares the immutable body; replacing the source must not change it.
    await s3.send(new PutObjectCommand({ Bucket, Key: 'src/a b.txt', Body: 'changed' }));
    const again = await s3.send(new GetObjectCommand({ Bucket: 'eaas-staging', Key: 'dst.txt' }));
    expect(await again.Body?.transformToString()).toBe('copy me');
  });

  it('from a missing source is NoSuchKey; with an unknown directive InvalidArgument', async () => {
    expect(
      await errorOf(s3.send(new CopyObjectCommand({ Bucket, Key: 'x', CopySource: `${Bucket}/missing` }))),
    ).toMatchObject({ name: 'NoSuchKey', status: 404 });
    expect(
      await errorOf(
        s3.send(
          new CopyObjectCommand({
            Bucket,
            Key: 'x',
            CopySource: `${Bucket}/rewrap`,
            MetadataDirective: 'MERGE' as 'COPY',
          }),
        ),
      ),
    ).toMatchObject({ name: 'InvalidArgument', status: 400 });
  });

  it('honours the destination If-None-Match: * (no overwrite)', async () => {
    const err = await errorOf(
      s3.send(
        new CopyObjectCommand({ Bucket, Key: 'rewrap', CopySource: `${Bucket}/digits`, IfNoneMatch: '*' }),
      ),
    );
    expect(err).toMatchObject({ status: 412 });
  });
});
