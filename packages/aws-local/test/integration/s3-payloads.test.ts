import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_USER, type LocalPrincipal } from '../../src/identity.js';
import { errorOf } from '../helpers/errors.js';
import { startTestS3, type TestS3 } from '../helpers/local-s3.js';
import { type RawS3Request, rawS3, sha256Hex, signedChunkedBody, signS3 } from '../helpers/s3-raw.js';

let t: TestS3;
let s3: S3Client;
let user: LocalPrincipal;
const Bucket = 'eaas-vault';

beforeAll(async () => {
  t = await startTestS3();
  s3 = t.client();
  user = t.principal(KEY_USER);
});
afterAll(async () => {
  await t.stop();
});

const put = (key: string, extra: Partial<RawS3Request>) =>
  rawS3({ endpoint: t.s3.endpoint, principal: user, method: 'PUT', path: `/${Bucket}/${key}`, ...extra });

async function stored(Key: string): Promise<string | undefined> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket, Key }));
    return await out.Body?.transformToString();
  } catch (error) {
    if ((error as Error).name === 'NoSuchKey') return undefined;
    throw error;
  }
}

const crc32Base64 = (data: string) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc32(Buffer.from(data)));
  return b.toString('base64');
};

function unsignedTrailerBody(chunks: string[], trailer: string): Buffer {
  const framed = chunks.map((c) => `${Buffer.byteLength(c).toString(16)}\r\n${c}\r\n`).join('');
  return Buffer.from(`${framed}0\r\n${trailer}\r\n\r\n`);
}

describe('the body is held to what the request declares', () => {
  it('a body that does not match x-amz-content-sha256 is XAmzContentSHA256Mismatch (400); nothing is stored', async () => {
    const res = await put('sha', { body: 'actual body', payloadHash: sha256Hex('signed body') });
    expect(res).toMatchObject({ status: 400, code: 'XAmzContentSHA256Mismatch' });
    expect(await stored('sha')).toBeUndefined();
  });

  it('a Content-MD5 that does not match is BadDigest; a malformed one InvalidDigest', async () => {
    const wrong = createHash('md5').update('other').digest('base64');
    expect(await put('md5', { body: 'body', headers: { 'content-md5': wrong } })).toMatchObject({
      status: 400,
      code: 'BadDigest',
    });
    expect(await put('md5', { body: 'body', headers: { 'content-md5': 'abc' } })).toMatchObject({
      status: 400,
      code: 'InvalidDigest',
    });
    const right = createHash('md5').update('body').digest('base64');
    expect(await put('md5', { body: 'body', headers: { 'content-md5': right } })).toMatchObject({
      status: 200,
    });
    expect(await stored('md5')).toBe('body');
  });

  it('an x-amz-checksum-crc32 header that does not match is BadDigest', async () => {
    const res = await put('crc', { body: 'body', headers: { 'x-amz-checksum-crc32': crc32Base64('other') } });
    expect(res).toMatchObject({ status: 400, code: 'BadDigest' });
    expect(await stored('crc')).toBeUndefined();
  });

  it('a body without Content-Length is MissingContentLength (411)', async () => {
    const res = await put('no-length', {
      body: 'abc',
      payloadHash: 'UNSIGNED-PAYLOAD',
      headers: { 'transfer-encoding': 'chunked' },
    });
    expect(res).toMatchObject({ status: 411, code: 'MissingContentLength' });
  });

  it('a PUT over 5 GiB is EntityTooLarge before its body is sent', async () => {
    const res = await put('huge', {
      payloadHash: 'UNSIGNED-PAYLOAD',
      headers: { 'content-length': String(5 * 1024 ** 3 + 1) },
      expectContinue: true,
    });
    expect(res).toMatchObject({ status: 400, code: 'EntityTooLarge' });
  });
});

describe('aws-chunked bodies', () => {
  const unsigned = (key: string, body: Buffer, decodedLength: number) =>
    put(key, {
      body,
      payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      headers: {
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': String(decodedLength),
        'x-amz-trailer': 'x-amz-checksum-crc32',
      },
    });

  it('STREAMING-UNSIGNED-PAYLOAD-TRAILER: decoded, its CRC32 trailer checked and kept', async () => {
    const res = await unsigned(
      'trailer',
      unsignedTrailerBody(
        ['hello ', 'chunked ', 'world'],
        `x-amz-checksum-crc32:${crc32Base64('hello chunked world')}`,
      ),
      19,
    );
    expect(res).toMatchObject({ status: 200 });
    expect(res.headers['x-amz-checksum-crc32']).toBe(crc32Base64('hello chunked world'));
    expect(await stored('trailer')).toBe('hello chunked world');
    // Stored without the transfer encoding, and the SDK validates the kept checksum on GET.
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'trailer', ChecksumMode: 'ENABLED' }));
    expect(head).toMatchObject({ ContentLength: 19, ChecksumCRC32: crc32Base64('hello chunked world') });
    expect(head.ContentEncoding).toBeUndefined();
  });

  it('a wrong trailer checksum is BadDigest; a missing trailer MalformedTrailerError; nothing is stored', async () => {
    const wrong = await unsigned(
      'bad-trailer',
      unsignedTrailerBody(['abc'], `x-amz-checksum-crc32:${crc32Base64('abd')}`),
      3,
    );
    expect(wrong).toMatchObject({ status: 400, code: 'BadDigest' });
    const missing = await unsigned('bad-trailer', Buffer.from('3\r\nabc\r\n0\r\n\r\n'), 3);
    expect(missing).toMatchObject({ status: 400, code: 'MalformedTrailerError' });
    expect(await stored('bad-trailer')).toBeUndefined();
  });

  it('bad framing or a length other than x-amz-decoded-content-length is refused', async () => {
    const trailer = `x-amz-checksum-crc32:${crc32Base64('abc')}`;
    expect(await unsigned('framing', unsignedTrailerBody(['abc'], trailer), 4)).toMatchObject({
      status: 400,
      code: 'IncompleteBody',
    });
    expect(await unsigned('framing', Buffer.from(`5\r\nabc\r\n0\r\n${trailer}\r\n\r\n`), 3)).toMatchObject({
      status: 400,
    });
    expect(await unsigned('framing', Buffer.from('zz\r\nabc\r\n'), 3)).toMatchObject({ status: 400 });
    expect(await stored('framing')).toBeUndefined();
  });

  async function signedStreaming(key: string, chunks: Buffer[], tamper: boolean) {
    const decoded = chunks.reduce((n, c) => n + c.length, 0);
    const request: RawS3Request = {
      endpoint: t.s3.endpoint,
      principal: user,
      method: 'PUT',
      path: `/${Bucket}/${key}`,
      payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(decoded) },
      // One signing date for both signings below, so that they give the same seed signature.
      signingDate: new Date(),
    };
    const { headers } = await signS3(request);
    return rawS3({ ...request, body: signedChunkedBody(chunks, headers, user.secretAccessKey, tamper) });
  }

  it('STREAMING-AWS4-HMAC-SHA256-PAYLOAD: every chunk signature is verified; a changed chunk is SignatureDoesNotMatch', async () => {
    const chunks = [Buffer.alloc(65_536, 'a'), Buffer.alloc(65_536, 'b'), Buffer.from('tail')];
    const ok = await signedStreaming('signed-chunks', chunks, false);
    expect(ok).toMatchObject({ status: 200 });
    expect(await stored('signed-chunks')).toBe(Buffer.concat(chunks).toString());
    const tampered = await signedStreaming('signed-tampered', chunks, true);
    expect(tampered).toMatchObject({ status: 403, code: 'SignatureDoesNotMatch' });
    expect(await stored('signed-tampered')).toBeUndefined();
  });

  it('aws-chunked with a plain payload hash is InvalidArgument', async () => {
    const res = await put('mixed', {
      body: '3\r\nabc\r\n0\r\n\r\n',
      payloadHash: 'UNSIGNED-PAYLOAD',
      headers: { 'content-encoding': 'aws-chunked' },
    });
    expect(res).toMatchObject({ status: 400, code: 'InvalidArgument' });
    expect((await errorOf(s3.send(new HeadObjectCommand({ Bucket, Key: 'mixed' })))).status).toBe(404);
  });
});
