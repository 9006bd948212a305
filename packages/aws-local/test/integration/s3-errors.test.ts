import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_USER } from '../../src/identity.js';
import { startTestS3, type TestS3 } from '../helpers/local-s3.js';
import { type RawS3Request, rawS3 } from '../helpers/s3-raw.js';

let t: TestS3;

beforeAll(async () => {
  t = await startTestS3();
  await t.client().send(new PutObjectCommand({ Bucket: 'eaas-vault', Key: 'x', Body: 'x' }));
});
afterAll(async () => {
  await t.stop();
});

type Case = [string, Omit<RawS3Request, 'endpoint' | 'principal'>, number, string];

const xml = (body: string) => ({ body, headers: { 'content-type': 'application/xml' } });

const CASES: Case[] = [
  [
    'a malformed percent-escape in the key',
    { method: 'GET', path: '/eaas-vault/%E0%A4%A' },
    400,
    'InvalidURI',
  ],
  [
    'a key over 1,024 bytes',
    { method: 'GET', path: `/eaas-vault/${'k'.repeat(1025)}` },
    400,
    'KeyTooLongError',
  ],
  ['a bucket that is not one', { method: 'GET', path: '/Upper/x' }, 404, 'NoSuchBucket'],
  ['a bucket name that climbs', { method: 'GET', path: '/..%2F..%2Fetc/passwd' }, 404, 'NoSuchBucket'],
  ['an unknown method on an object', { method: 'PATCH', path: '/eaas-vault/x' }, 405, 'MethodNotAllowed'],
  ['DELETE on the service', { method: 'DELETE', path: '/' }, 405, 'MethodNotAllowed'],
  [
    'POST on an object without a subresource',
    { method: 'POST', path: '/eaas-vault/x' },
    405,
    'MethodNotAllowed',
  ],
  [
    'a part of an unknown upload',
    { method: 'PUT', path: '/eaas-vault/x', query: { partNumber: '1', uploadId: 'nope' }, body: 'x' },
    404,
    'NoSuchUpload',
  ],
  [
    'completing an unknown upload',
    {
      method: 'POST',
      path: '/eaas-vault/x',
      query: { uploadId: 'nope' },
      ...xml('<CompleteMultipartUpload/>'),
    },
    404,
    'NoSuchUpload',
  ],
  [
    'a copy source that is not URL-encoded right',
    { method: 'PUT', path: '/eaas-vault/y', headers: { 'x-amz-copy-source': '/eaas-vault/%zz' } },
    400,
    'InvalidURI',
  ],
  [
    'a copy source without a key',
    { method: 'PUT', path: '/eaas-vault/y', headers: { 'x-amz-copy-source': 'eaas-vault' } },
    400,
    'InvalidArgument',
  ],
  [
    'a copy source with a version id',
    { method: 'PUT', path: '/eaas-vault/y', headers: { 'x-amz-copy-source': '/eaas-vault/x?versionId=abc' } },
    400,
    'InvalidArgument',
  ],
  [
    'max-keys that is not a number',
    { method: 'GET', path: '/eaas-vault', query: { 'list-type': '2', 'max-keys': 'abc' } },
    400,
    'InvalidArgument',
  ],
  [
    'an unknown list type',
    { method: 'GET', path: '/eaas-vault', query: { 'list-type': '3' } },
    400,
    'InvalidArgument',
  ],
  [
    'an unknown encoding type',
    { method: 'GET', path: '/eaas-vault', query: { 'list-type': '2', 'encoding-type': 'base64' } },
    400,
    'InvalidArgument',
  ],
  [
    'a response override with a line break',
    { method: 'GET', path: '/eaas-vault/x', query: { 'response-content-type': 'a\r\nb: c' } },
    400,
    'InvalidArgument',
  ],
  [
    'DeleteObjects with a body that is not XML',
    { method: 'POST', path: '/eaas-vault', query: { delete: '' }, ...xml('not xml') },
    400,
    'MalformedXML',
  ],
  [
    'DeleteObjects with a DOCTYPE',
    {
      method: 'POST',
      path: '/eaas-vault',
      query: { delete: '' },
      ...xml(
        '<!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]><Delete><Object><Key>&e;</Key></Object></Delete>',
      ),
    },
    400,
    'MalformedXML',
  ],
  [
    'a CORS rule without a method',
    {
      method: 'PUT',
      path: '/eaas-vault',
      query: { cors: '' },
      ...xml('<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>'),
    },
    400,
    'MalformedXML',
  ],
  [
    'a checksum that is not base64 of the right size',
    { method: 'PUT', path: '/eaas-vault/y', body: 'x', headers: { 'x-amz-checksum-crc32': 'nope' } },
    400,
    'InvalidRequest',
  ],
  [
    'an unknown checksum algorithm',
    { method: 'PUT', path: '/eaas-vault/y', body: 'x', headers: { 'x-amz-checksum-md5': 'AAAA' } },
    400,
    'InvalidRequest',
  ],
  [
    'two checksums',
    {
      method: 'PUT',
      path: '/eaas-vault/y',
      body: 'x',
      headers: { 'x-amz-checksum-crc32': 'AAAAAA==', 'x-amz-checksum-sha1': 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' },
    },
    400,
    'InvalidRequest',
  ],
  [
    'an x-amz-content-sha256 that is neither a hash nor a payload type',
    { method: 'PUT', path: '/eaas-vault/y', body: 'x', payloadHash: 'garbage' },
    400,
    'InvalidArgument',
  ],
  [
    'an If-None-Match other than * on PUT (as S3)',
    { method: 'PUT', path: '/eaas-vault/y', body: 'x', headers: { 'if-none-match': '"abc"' } },
    501,
    'NotImplemented',
  ],
  [
    'a subresource the local S3 does not have',
    { method: 'GET', path: '/eaas-vault/x', query: { acl: '' } },
    501,
    'NotImplemented',
  ],
  ['creating another bucket', { method: 'PUT', path: '/another-bucket' }, 501, 'NotImplemented'],
  ['creating a configured bucket', { method: 'PUT', path: '/eaas-vault' }, 409, 'BucketAlreadyOwnedByYou'],
];

describe('every bad request is a clear S3 error, never a 500', () => {
  it.each(CASES)('%s', async (_what, request, status, code) => {
    const res = await rawS3({ endpoint: t.s3.endpoint, principal: t.principal(KEY_USER), ...request });
    expect(res).toMatchObject({ status, code });
    const requestId = /<RequestId>([^<]+)<\/RequestId>/.exec(res.text)?.[1];
    expect(requestId).toBe(res.headers['x-amz-request-id']);
  });

  it('GetBucketLocation and HeadBucket answer for a configured bucket', async () => {
    const location = await rawS3({
      endpoint: t.s3.endpoint,
      principal: t.principal(KEY_USER),
      method: 'GET',
      path: '/eaas-vault',
      query: { location: '' },
    });
    expect(location.status).toBe(200);
    expect(location.text).toContain('<LocationConstraint');
    const head = await rawS3({
      endpoint: t.s3.endpoint,
      principal: t.principal(KEY_USER),
      method: 'HEAD',
      path: '/eaas-vault',
    });
    expect(head).toMatchObject({ status: 200, headers: { 'x-amz-bucket-region': 'us-east-1' } });
  });
});
