import { randomBytes } from 'node:crypto';
import { KEY_USER } from '@eaas/aws-local';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readApiSettings } from '../../local/api-settings.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * The REST API's settings in serverless.yml, as the local gateway applies them: binary media types
 * both ways (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings.html),
 * throttling (api-gateway-request-throttling.html) and CORS (how-to-cors.html). A stack started
 * with another setting shows what that setting would break in AWS.
 */

/** A request signed as the principal with any body, Content-Type and Accept, answered as bytes. */
async function send(
  t: TestStack,
  method: string,
  path: string,
  options: {
    body?: Uint8Array;
    contentType?: string;
    accept?: string;
    origin?: string;
    principal?: string;
  } = {},
) {
  const url = new URL(t.api);
  const p = t.principal(options.principal ?? KEY_USER);
  const [pathname, search = ''] = path.split('?');
  const query = Object.fromEntries(new URLSearchParams(search));
  const signer = new SignatureV4({
    service: 'execute-api',
    region: t.config.region,
    credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey },
    sha256: Hash.bind(null, 'sha256'),
  });
  const headers: Record<string, string> = { host: url.host };
  if (options.contentType) headers['content-type'] = options.contentType;
  if (options.accept) headers.accept = options.accept;
  if (options.origin) headers.origin = options.origin;
  const signed = await signer.sign(
    new HttpRequest({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: pathname ?? '/',
      query,
      headers,
      ...(options.body ? { body: options.body } : {}),
    }),
  );
  const { host: _host, ...sendable } = signed.headers;
  const res = await fetch(`${url.origin}${path}`, {
    method,
    headers: sendable,
    ...(options.body ? { body: options.body } : {}),
  });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

/** Bytes that are not UTF-8 (0xff never is), as any image or ciphertext has. */
const binary = () => Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x80]), randomBytes(64)]);
const objectPath = (name: string) =>
  `/v1/objects/binary/${name}?keyId=${encodeURIComponent('alias/eaas-default')}`;

describe('binary bodies with the deployed setting (binaryMediaTypes: */*)', () => {
  let t: TestStack;
  beforeAll(async () => {
    t = await startTestStack();
  });
  afterAll(() => t.stop());

  it('reads its binary media types from serverless.yml', () => {
    expect(readApiSettings().binaryMediaTypes).toEqual(['*/*']);
  });

  it.each([
    ['application/octet-stream', '*/*'],
    ['image/png', undefined],
    ['text/plain', 'image/png, application/json'],
    ['application/json', 'application/json'],
  ])('a document sent as %s comes back byte for byte with Accept %s', async (contentType, accept) => {
    const doc = binary();
    const name = `${contentType.replace('/', '-')}.bin`;
    const put = await send(t, 'PUT', objectPath(name), { body: doc, contentType });
    expect(put.status).toBe(200);
    const got = await send(t, 'GET', `/v1/objects/binary/${name}`, accept ? { accept } : {});
    expect(got.status).toBe(200);
    expect(got.bytes.equals(doc)).toBe(true);
  });
});

describe('binary bodies with a misconfigured setting (octet-stream only) fail locally as they would in AWS', () => {
  let t: TestStack;
  beforeAll(async () => {
    t = await startTestStack({ api: { binaryMediaTypes: ['application/octet-stream'] } });
  });
  afterAll(() => t.stop());

  it('matching both ways (octet-stream in, octet-stream first in Accept): the bytes come back', async () => {
    const doc = binary();
    await send(t, 'PUT', objectPath('ok.bin'), { body: doc, contentType: 'application/octet-stream' });
    const got = await send(t, 'GET', '/v1/objects/binary/ok.bin', { accept: 'application/octet-stream' });
    expect(got.bytes.equals(doc)).toBe(true);
  });

  it("an answer to fetch's default Accept (*/*, not in the list) is the base64 text, not the bytes", async () => {
    const doc = binary();
    await send(t, 'PUT', objectPath('b64.bin'), { body: doc, contentType: 'application/octet-stream' });
    const got = await send(t, 'GET', '/v1/objects/binary/b64.bin');
    expect(got.bytes.equals(doc)).toBe(false);
    expect(got.bytes.toString('utf8')).toBe(doc.toString('base64'));
    // A client asking for JSON first gets the same text.
    const json = await send(t, 'GET', '/v1/objects/binary/b64.bin', {
      accept: 'application/json, application/octet-stream',
    });
    expect(json.bytes.toString('utf8')).toBe(doc.toString('base64'));
  });

  it('a body whose Content-Type is not in the list reaches the function as UTF-8 text: the document is corrupted', async () => {
    const doc = binary();
    await send(t, 'PUT', objectPath('png.bin'), { body: doc, contentType: 'image/png' });
    const got = await send(t, 'GET', '/v1/objects/binary/png.bin', { accept: 'application/octet-stream' });
    expect(got.status).toBe(200);
    expect(got.bytes.equals(doc)).toBe(false);
    expect(got.bytes.includes(Buffer.from('\ufffd'))).toBe(true);
  });
});

describe('throttling as API Gateway does it', () => {
  let t: TestStack;
  beforeAll(async () => {
    t = await startTestStack({
      api: {
        throttle: { rate: 0.001, burst: 2 },
        methodThrottles: { 'POST /v1/encrypt': { rate: 0.001, burst: 1 } },
      },
    });
  });
  afterAll(() => t.stop());

  it('reads the stage and method throttles from serverless.yml', () => {
    const api = readApiSettings();
    expect(api.throttle).toEqual({ rate: 100, burst: 200 });
    expect(api.methodThrottles['POST /v1/encrypt']).toEqual({ rate: 50, burst: 100 });
    expect(api.methodThrottles['POST /v1/uploads']).toEqual({ rate: 10, burst: 20 });
  });

  it('a method past its burst answers 429 TooManyRequestsException; another method has its own bucket', async () => {
    const whoami = () => send(t, 'GET', '/v1/whoami');
    expect((await whoami()).status).toBe(200);
    expect((await whoami()).status).toBe(200);
    const third = await whoami();
    expect(third.status).toBe(429);
    expect(third.headers.get('x-amzn-errortype')).toBe('TooManyRequestsException');
    expect(JSON.parse(third.bytes.toString('utf8'))).toEqual({ message: 'Too Many Requests' });
    // POST /v1/encrypt has its own setting (burst 1), untouched by the whoami calls.
    const body = Buffer.from(JSON.stringify({ keyId: 'alias/eaas-default', plaintext: 'aGk=' }));
    const encrypt = () => send(t, 'POST', '/v1/encrypt', { body, contentType: 'application/json' });
    expect((await encrypt()).status).toBe(200);
    expect((await encrypt()).status).toBe(429);
  });
});

describe('CORS for the page origin', () => {
  const ORIGIN = 'https://docs.example.com';
  let t: TestStack;
  beforeAll(async () => {
    t = await startTestStack({ env: { EAAS_CORS_ORIGIN: ORIGIN } });
  });
  afterAll(() => t.stop());

  it('answers a preflight as the OPTIONS mock integration: the origin, the SigV4 headers, the methods of the path', async () => {
    const res = await fetch(`${t.api}/v1/objects/a/b.txt`, {
      method: 'OPTIONS',
      headers: {
        origin: ORIGIN,
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'authorization,x-amz-date',
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    const allowed = (res.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(',');
    expect(allowed).toEqual(
      expect.arrayContaining([
        'authorization',
        'x-amz-date',
        'x-amz-security-token',
        'x-amz-content-sha256',
        'content-type',
      ]),
    );
    expect((res.headers.get('access-control-allow-methods') ?? '').split(',').sort()).toEqual([
      'DELETE',
      'GET',
      'HEAD',
      'OPTIONS',
      'PUT',
    ]);
    // A path the API does not have gets no preflight answer.
    expect((await fetch(`${t.api}/v1/nothing`, { method: 'OPTIONS' })).status).toBe(403);
  });

  it("puts the origin on the functions' answers and on the gateway's own, exposing the headers a page reads", async () => {
    const ok = await send(t, 'GET', '/v1/whoami', { origin: ORIGIN });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(ok.headers.get('access-control-expose-headers')).toContain('ETag');
    const unsigned = await fetch(`${t.api}/v1/whoami`, { headers: { origin: ORIGIN } });
    expect(unsigned.status).toBe(403);
    expect(unsigned.headers.get('access-control-allow-origin')).toBe(ORIGIN);
  });

  it('takes only an origin as the setting', async () => {
    const { loadConfig } = await import('../../src/config.js');
    expect(loadConfig({ EAAS_CORS_ORIGIN: ORIGIN }).corsOrigin).toBe(ORIGIN);
    expect(() => loadConfig({ EAAS_CORS_ORIGIN: `${ORIGIN}/page` })).toThrow('EAAS_CORS_ORIGIN');
    expect(loadConfig({}).corsOrigin).toBeUndefined();
  });
});
