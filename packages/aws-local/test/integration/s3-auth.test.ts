import {
  GetObjectCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_SESSION, KEY_USER, SERVICE } from '../../src/identity.js';
import { errorOf } from '../helpers/errors.js';
import { startTestS3, type TestS3 } from '../helpers/local-s3.js';
import { rawExchange } from '../helpers/raw-http.js';
import { rawS3 } from '../helpers/s3-raw.js';

let t: TestS3;
let s3: S3Client;
const Bucket = 'eaas-staging';

beforeAll(async () => {
  t = await startTestS3();
  s3 = t.client();
  await s3.send(new PutObjectCommand({ Bucket, Key: 'shared/report.txt', Body: 'the report' }));
});
afterAll(async () => {
  await t.stop();
});

function clientWith(credentials: { accessKeyId: string; secretAccessKey: string }): S3Client {
  return new S3Client({
    endpoint: t.s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials,
    maxAttempts: 1,
  });
}

describe('SigV4 in headers', () => {
  it('serves every local principal, including an assumed-role session with its token', async () => {
    for (const name of [KEY_USER, SERVICE, APP_SESSION]) {
      const out = await t.client(name).send(new GetObjectCommand({ Bucket, Key: 'shared/report.txt' }));
      expect(await out.Body?.transformToString()).toBe('the report');
    }
    const buckets = await s3.send(new ListBucketsCommand({}));
    expect(buckets.Buckets?.map((b) => b.Name)).toEqual(['eaas-staging', 'eaas-vault']);
  });

  it('a wrong secret is SignatureDoesNotMatch (403), and writes nothing', async () => {
    const user = t.principal(KEY_USER);
    const forged = clientWith({
      accessKeyId: user.accessKeyId,
      secretAccessKey: 'wrongwrongwrongwrongwrongwrongwrongwrong',
    });
    expect(
      await errorOf(forged.send(new PutObjectCommand({ Bucket, Key: 'forged', Body: 'x' }))),
    ).toMatchObject({
      name: 'SignatureDoesNotMatch',
      status: 403,
    });
    expect((await errorOf(s3.send(new HeadObjectCommand({ Bucket, Key: 'forged' })))).status).toBe(404);
    forged.destroy();
  });

  it('an unknown access key is InvalidAccessKeyId (403); a session key without its token is refused', async () => {
    const unknown = clientWith({ accessKeyId: 'AKIAUNKNOWNUNKNOWN00', secretAccessKey: 'x' });
    expect(await errorOf(unknown.send(new ListBucketsCommand({})))).toMatchObject({
      name: 'InvalidAccessKeyId',
      status: 403,
    });
    const session = t.principal(APP_SESSION);
    const tokenless = clientWith({
      accessKeyId: session.accessKeyId,
      secretAccessKey: session.secretAccessKey,
    });
    expect((await errorOf(tokenless.send(new ListBucketsCommand({})))).status).toBe(400);
    unknown.destroy();
    tokenless.destroy();
  });

  it('a signature for another region is AuthorizationHeaderMalformed (400), naming the region expected', async () => {
    const user = t.principal(KEY_USER);
    const elsewhere = new S3Client({
      endpoint: t.s3.endpoint,
      region: 'eu-west-1',
      forcePathStyle: true,
      credentials: { accessKeyId: user.accessKeyId, secretAccessKey: user.secretAccessKey },
      maxAttempts: 1,
    });
    const error = await errorOf(elsewhere.send(new GetObjectCommand({ Bucket, Key: 'shared/report.txt' })));
    expect(error).toMatchObject({
      name: 'AuthorizationHeaderMalformed',
      status: 400,
      message:
        "The authorization header is malformed; the region 'eu-west-1' is wrong; expecting 'us-east-1'",
    });
    const url = await getSignedUrl(elsewhere, new GetObjectCommand({ Bucket, Key: 'shared/report.txt' }));
    const presigned = await fetch(url);
    const body = await presigned.text();
    expect(presigned.status).toBe(400);
    expect(body).toContain('<Code>AuthorizationQueryParametersError</Code>');
    expect(body).toContain('the region &apos;eu-west-1&apos; is wrong; expecting &apos;us-east-1&apos;');
    expect(body).toContain('<Region>us-east-1</Region>');
    elsewhere.destroy();
  });

  it('an unsigned request is AccessDenied (403)', async () => {
    const res = await fetch(`${t.s3.endpoint}/${Bucket}/shared/report.txt`);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('<Code>AccessDenied</Code>');
  });

  it('a request signed 20 minutes ago is RequestTimeTooSkewed (403)', async () => {
    const res = await rawS3({
      endpoint: t.s3.endpoint,
      principal: t.principal(KEY_USER),
      method: 'GET',
      path: `/${Bucket}/shared/report.txt`,
      signingDate: new Date(Date.now() - 20 * 60_000),
    });
    expect(res).toMatchObject({ status: 403, code: 'RequestTimeTooSkewed' });
  });

  it('header auth without x-amz-content-sha256 is InvalidRequest (400)', async () => {
    const res = await rawS3({
      endpoint: t.s3.endpoint,
      principal: t.principal(KEY_USER),
      method: 'GET',
      path: `/${Bucket}/shared/report.txt`,
      payloadHash: null,
    });
    expect(res).toMatchObject({ status: 400, code: 'InvalidRequest' });
    expect(res.text).toContain('x-amz-content-sha256');
  });
});

describe('presigned URLs', () => {
  it('GET and PUT through fetch, with metadata hoisted into the query', async () => {
    const put = await getSignedUrl(
      s3,
      new PutObjectCommand({
        Bucket,
        Key: 'presigned/a b+c.txt',
        ContentType: 'text/plain',
        Metadata: { upload: 'u-1' },
      }),
      { expiresIn: 300 },
    );
    const stored = await fetch(put, {
      method: 'PUT',
      body: 'through a presigned URL',
      headers: { 'content-type': 'text/plain' },
    });
    expect(stored.status).toBe(200);
    expect(stored.headers.get('etag')).toMatch(/^"[0-9a-f]{32}"$/);

    const get = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'presigned/a b+c.txt' }), {
      expiresIn: 300,
    });
    const got = await fetch(get);
    expect(got.status).toBe(200);
    expect(await got.text()).toBe('through a presigned URL');
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'presigned/a b+c.txt' }));
    expect(head).toMatchObject({ ContentType: 'text/plain', Metadata: { upload: 'u-1' } });
  });

  it('an expired presigned URL is AccessDenied (403) "Request has expired"', async () => {
    const signingDate = new Date(Date.now() - 120_000);
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'shared/report.txt' }), {
      expiresIn: 60,
      signingDate,
    });
    const res = await fetch(url);
    expect(res.status).toBe(403);
    const body = await res.text();
    expect(body).toContain('<Code>AccessDenied</Code>');
    expect(body).toContain('Request has expired');
    // The same URL within its expiry works.
    const fresh = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'shared/report.txt' }), {
      expiresIn: 600,
      signingDate,
    });
    expect((await fetch(fresh)).status).toBe(200);
  });

  it('an expired presigned PUT stores nothing', async () => {
    const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket, Key: 'presigned/late' }), {
      expiresIn: 1,
      signingDate: new Date(Date.now() - 60_000),
    });
    expect((await fetch(url, { method: 'PUT', body: 'too late' })).status).toBe(403);
    expect((await errorOf(s3.send(new HeadObjectCommand({ Bucket, Key: 'presigned/late' })))).status).toBe(
      404,
    );
  });

  it('a presigned URL whose key or signature was changed is SignatureDoesNotMatch', async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'shared/report.txt' }), {
      expiresIn: 60,
    });
    const other = await fetch(url.replace('report.txt', 'other.txt'));
    expect(other.status).toBe(403);
    expect(await other.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
  });

  it('an expiry beyond seven days is AuthorizationQueryParametersError (400)', async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'shared/report.txt' }), {
      expiresIn: 60,
    });
    const res = await fetch(url.replace('X-Amz-Expires=60', 'X-Amz-Expires=604801'));
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('AuthorizationQueryParametersError');
  });
});

describe('issue 12, finding 7, at the local S3: a PUT is authenticated before its body is read or stored', () => {
  it.each([
    ['an unsigned PUT', {}, 'AccessDenied'],
    [
      'a PUT signed with an unknown access key',
      (() => {
        const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
        return {
          authorization: `AWS4-HMAC-SHA256 Credential=AKIAUNKNOWNUNKNOWN00/${amzDate.slice(0, 8)}/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=${'0'.repeat(64)}`,
          'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
          'x-amz-date': amzDate,
        };
      })(),
      'InvalidAccessKeyId',
    ],
  ])('%s of 50 MB is answered from its headers, and nothing is stored', async (_what, auth, code) => {
    const length = 50 * 1024 * 1024;
    const exchange = rawExchange({
      endpoint: t.s3.endpoint,
      method: 'PUT',
      path: `/${Bucket}/unsigned-big`,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(length), ...auth },
      firstBytes: 1024,
    });
    const answer = await exchange.answer;
    expect(answer.status).toBe(403);
    expect(answer.body).toContain(`<Code>${code}</Code>`);
    expect(answer.headers.connection).toBe('close');
    const after = await exchange.sendRest(length);
    expect(after.closedEarly).toBe(true);
    expect(after.sent).toBeLessThan(length / 2);
    exchange.socket.destroy();
    expect((await errorOf(s3.send(new HeadObjectCommand({ Bucket, Key: 'unsigned-big' })))).status).toBe(404);
  });
});
