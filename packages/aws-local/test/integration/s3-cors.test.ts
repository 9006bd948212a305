import {
  DeleteBucketCorsCommand,
  GetBucketCorsCommand,
  PutBucketCorsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf } from '../helpers/errors.js';
import { startTestS3, type TestS3 } from '../helpers/local-s3.js';

let t: TestS3;
let s3: S3Client;
const Bucket = 'eaas-staging';
const PAGE = 'http://127.0.0.1:3000';

beforeAll(async () => {
  t = await startTestS3();
  s3 = t.client();
});
afterAll(async () => {
  await t.stop();
});

const preflight = (path: string, headers: Record<string, string>) =>
  fetch(`${t.s3.endpoint}${path}`, { method: 'OPTIONS', headers });

describe('bucket CORS', () => {
  it('without a configuration: GetBucketCors is NoSuchCORSConfiguration and a preflight is refused (403)', async () => {
    expect(await errorOf(s3.send(new GetBucketCorsCommand({ Bucket })))).toMatchObject({
      name: 'NoSuchCORSConfiguration',
      status: 404,
    });
    const res = await preflight(`/${Bucket}/x`, { origin: PAGE, 'access-control-request-method': 'PUT' });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('CORS is not enabled for this bucket');
  });

  it('stores the upload page’s rules and answers them back', async () => {
    await s3.send(
      new PutBucketCorsCommand({
        Bucket,
        CORSConfiguration: {
          CORSRules: [
            {
              ID: 'upload-page',
              AllowedOrigins: ['http://127.0.0.1:*'],
              AllowedMethods: ['PUT', 'GET', 'HEAD'],
              AllowedHeaders: ['content-type', 'x-amz-*'],
              ExposeHeaders: ['ETag', 'x-amz-request-id'],
              MaxAgeSeconds: 600,
            },
            { AllowedOrigins: ['*'], AllowedMethods: ['GET'] },
          ],
        },
      }),
    );
    const got = await s3.send(new GetBucketCorsCommand({ Bucket }));
    expect(got.CORSRules?.[0]).toMatchObject({
      ID: 'upload-page',
      AllowedOrigins: ['http://127.0.0.1:*'],
      AllowedMethods: ['PUT', 'GET', 'HEAD'],
      ExposeHeaders: ['ETag', 'x-amz-request-id'],
      MaxAgeSeconds: 600,
    });
  });

  it('answers an allowed preflight, unauthenticated, with the matching rule', async () => {
    const res = await preflight(`/${Bucket}/incoming/file.pdf`, {
      origin: PAGE,
      'access-control-request-method': 'PUT',
      'access-control-request-headers': 'Content-Type, X-Amz-Meta-Upload',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(PAGE);
    expect(res.headers.get('access-control-allow-methods')).toBe('PUT, GET, HEAD');
    expect(res.headers.get('access-control-allow-headers')).toBe('content-type, x-amz-meta-upload');
    expect(res.headers.get('access-control-expose-headers')).toBe('ETag, x-amz-request-id');
    expect(res.headers.get('access-control-max-age')).toBe('600');
  });

  it('refuses a preflight whose origin, method or headers no rule allows', async () => {
    const cases: Array<Record<string, string>> = [
      { origin: 'https://evil.example', 'access-control-request-method': 'PUT' },
      { origin: PAGE, 'access-control-request-method': 'DELETE' },
      {
        origin: PAGE,
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'authorization-x',
      },
    ];
    for (const headers of cases) {
      const res = await preflight(`/${Bucket}/x`, headers);
      expect(res.status).toBe(403);
      expect(await res.text()).toContain('<Code>AccessForbidden</Code>');
    }
    // The second rule lets any origin GET.
    const any = await preflight(`/${Bucket}/x`, {
      origin: 'https://elsewhere.example',
      'access-control-request-method': 'GET',
    });
    expect(any.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('refuses a preflight without Origin or method (400)', async () => {
    expect((await preflight(`/${Bucket}/x`, { 'access-control-request-method': 'PUT' })).status).toBe(400);
    expect((await preflight(`/${Bucket}/x`, { origin: PAGE })).status).toBe(400);
    expect(
      (await preflight(`/${Bucket}/x`, { origin: PAGE, 'access-control-request-method': 'PATCH' })).status,
    ).toBe(400);
  });

  it('puts CORS headers, ETag exposed, on the actual request from the page', async () => {
    const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket, Key: 'incoming/from-page.txt' }), {
      expiresIn: 60,
    });
    const res = await fetch(url, { method: 'PUT', body: 'from the page', headers: { origin: PAGE } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(PAGE);
    expect(res.headers.get('access-control-expose-headers')).toContain('ETag');
    expect(res.headers.get('etag')).toMatch(/^"[0-9a-f]{32}"$/);
    // A refused request from the page carries them too, so the page can read the error.
    const denied = await fetch(`${t.s3.endpoint}/${Bucket}/incoming/x`, {
      method: 'GET',
      headers: { origin: PAGE },
    });
    expect(denied.status).toBe(403);
    expect(denied.headers.get('access-control-allow-origin')).toBe(PAGE);
  });

  it('refuses a malformed configuration and deletes the configuration', async () => {
    const bad = await errorOf(
      s3.send(
        new PutBucketCorsCommand({
          Bucket,
          CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['*'], AllowedMethods: ['PATCH'] }] },
        }),
      ),
    );
    expect(bad).toMatchObject({ status: 400 });
    expect(
      await errorOf(s3.send(new PutBucketCorsCommand({ Bucket, CORSConfiguration: { CORSRules: [] } }))),
    ).toMatchObject({
      name: 'MalformedXML',
    });
    await s3.send(new DeleteBucketCorsCommand({ Bucket }));
    expect((await errorOf(s3.send(new GetBucketCorsCommand({ Bucket })))).status).toBe(404);
  });
});
