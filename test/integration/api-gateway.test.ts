import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { APP_SESSION, GRANTEE, KEY_MANAGER, KEY_USER, OUTSIDER, SERVICE } from '@eaas/aws-local';
import {
  type EarlyAnswer,
  firstAnswers,
  type RawExchange,
  rawExchange,
  sha256Hex,
  signedHeaders,
} from '@eaas/aws-local/testing/raw-http';
import { signedFetch } from '@eaas/aws-local/testing/signed-fetch';
import { EaasClient } from '@eaas/client';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BODY_BYTES_PER_KEY,
  type LambdaHandler,
  MAX_REQUEST_BYTES,
  startGateway,
} from '../../local/gateway.js';
import type { FunctionName } from '../../src/http/routes.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

const exec = promisify(execFile);
let t: TestStack;

beforeAll(async () => {
  t = await startTestStack();
});
afterAll(() => t.stop());

describe('the local gateway answers as API Gateway does', () => {
  it('an unsigned request: 403 Missing Authentication Token', async () => {
    const res = await fetch(`${t.api}/v1/encrypt`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
    expect(await res.json()).toEqual({ message: 'Missing Authentication Token' });
  });

  it('a request signed with a wrong secret: 403 InvalidSignatureException', async () => {
    const p = t.principal(KEY_USER);
    const forged = new EaasClient({
      endpoint: t.api,
      credentials: { accessKeyId: p.accessKeyId, secretAccessKey: 'x'.repeat(40) },
    });
    const res = await forged.raw('POST', '/v1/encrypt', { keyId: 'alias/eaas-default', plaintext: 'aGk=' });
    expect(res.status).toBe(403);
    expect(res.headers.get('x-amzn-errortype')).toBe('InvalidSignatureException');
    expect((res.body as { message: string }).message).toContain('signature we calculated does not match');
  });

  it('an unknown access key: 403 UnrecognizedClientException', async () => {
    const stranger = new EaasClient({
      endpoint: t.api,
      credentials: { accessKeyId: 'AKIAXXXXXXXXXXXXXXXX', secretAccessKey: 'y'.repeat(40) },
    });
    const res = await stranger.raw('GET', '/v1/whoami');
    expect(res.status).toBe(403);
    expect(res.headers.get('x-amzn-errortype')).toBe('UnrecognizedClientException');
  });

  it('a route it does not have, signed or not: 403 Missing Authentication Token', async () => {
    const res = await t.client().raw('POST', '/v1/nothing-here', {});
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ message: 'Missing Authentication Token' });
    const wrongMethod = await t.client().raw('GET', '/v1/encrypt');
    expect(wrongMethod.status).toBe(403);
  });

  it('a body over the Lambda payload limit: 413 naming the upload route', async () => {
    const res = await fetch(`${t.api}/v1/encrypt`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'x'.repeat(6 * 1024 * 1024 + 1),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { message: string }).message).toContain('/v1/uploads');
  });

  it('every answer carries a request id and the security headers', async () => {
    for (const res of [
      await t.client().raw('GET', '/v1/whoami'),
      await t.client().raw('POST', '/v1/decrypt', { ciphertext: 'AAAA' }),
    ]) {
      const body = res.body as { requestId: string };
      expect(body.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.headers.get('x-amzn-requestid')).toBe(body.requestId);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('strict-transport-security')).toContain('max-age=');
      expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    }
  });

  it('works with curl --aws-sigv4 as a caller would use it', async () => {
    const p = t.principal(KEY_USER);
    const common = [
      '-s',
      '--aws-sigv4',
      'aws:amz:us-east-1:execute-api',
      '--user',
      `${p.accessKeyId}:${p.secretAccessKey}`,
    ];
    const enc = await exec('curl', [
      ...common,
      '-H',
      'content-type: application/json',
      '-d',
      JSON.stringify({
        keyId: 'alias/eaas-default',
        plaintext: Buffer.from('curl secret').toString('base64'),
      }),
      `${t.api}/v1/encrypt`,
    ]);
    const { ciphertext } = JSON.parse(enc.stdout) as { ciphertext: string };
    const dec = await exec('curl', [
      ...common,
      '-H',
      'content-type: application/json',
      '-d',
      JSON.stringify({ ciphertext }),
      `${t.api}/v1/decrypt`,
    ]);
    expect(
      Buffer.from((JSON.parse(dec.stdout) as { plaintext: string }).plaintext, 'base64').toString(),
    ).toBe('curl secret');
    const who = await exec('curl', [...common, `${t.api}/v1/whoami?keyId=alias%2Feaas-default`]);
    expect(JSON.parse(who.stdout)).toMatchObject({ principal: p.arn, key: { state: 'Enabled' } });
  });
});

describe('bad input gets a documented 4xx, never a 5xx', () => {
  const api = () => t.client();

  it.each([
    ['malformed JSON', '/v1/encrypt', '{"keyId":', 400, 'MalformedJson'],
    ['a JSON array', '/v1/encrypt', '[1]', 400, 'ValidationError'],
    ['a missing field', '/v1/encrypt', '{"keyId":"alias/eaas-default"}', 400, 'ValidationError'],
    ['a wrong type', '/v1/encrypt', '{"keyId":5,"plaintext":"aGk="}', 400, 'ValidationError'],
    ['bad base64', '/v1/encrypt', '{"keyId":"alias/eaas-default","plaintext":"***"}', 400, 'ValidationError'],
    ['an unknown field', '/v1/decrypt', '{"ciphertext":"aGk=","extra":1}', 400, 'ValidationError'],
    [
      'a reserved context key',
      '/v1/encrypt',
      '{"keyId":"k","plaintext":"aGk=","context":{"aws:x":"1"}}',
      400,
      'ValidationError',
    ],
    [
      'a non-string context value',
      '/v1/encrypt',
      '{"keyId":"k","plaintext":"aGk=","context":{"a":1}}',
      400,
      'ValidationError',
    ],
    [
      'an out-of-range numberOfBytes',
      '/v1/data-keys',
      '{"keyId":"k","numberOfBytes":2000}',
      400,
      'ValidationError',
    ],
    ['an unknown key', '/v1/encrypt', '{"keyId":"alias/none","plaintext":"aGk="}', 403, 'AccessDenied'],
  ])('%s', async (_what, path, body, status, code) => {
    const res = await rawText(path, body);
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({ error: code, requestId: expect.any(String) });
  });

  it('a wrong media type is 415', async () => {
    const res = await rawText('/v1/encrypt', '{}', 'text/plain');
    expect(res.status).toBe(415);
    expect(res.body).toMatchObject({ error: 'UnsupportedMediaType' });
  });

  it('a context too large in total is refused', async () => {
    const context = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`k${i}`, 'v'.repeat(1000)]));
    const res = await api().raw('POST', '/v1/encrypt', {
      keyId: 'alias/eaas-default',
      plaintext: 'aGk=',
      context,
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      error: 'ValidationError',
      message: expect.stringContaining('4096 bytes'),
    });
  });

  it('property test: random request bodies on every route never get a 5xx', async () => {
    // An RSA key for ENCRYPT_DECRYPT its user may use, among the keys the bodies name.
    const rsaKey = (
      await t.client(KEY_MANAGER).createKey({
        keySpec: 'RSA_2048',
        keyUsage: 'ENCRYPT_DECRYPT',
        users: [t.principal(KEY_USER).arn],
      })
    ).key.keyId;
    const routes = [
      '/v1/encrypt',
      '/v1/decrypt',
      '/v1/re-encrypt',
      '/v1/data-keys',
      '/v1/sign',
      '/v1/verify',
      '/v1/mac',
      '/v1/verify-mac',
    ];
    const value = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.base64String({ maxLength: 40 }),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.constantFrom(
        'alias/eaas-default',
        'alias/none',
        'AAAA',
        '',
        'DIGEST',
        'RAW',
        'ECDSA_SHA_256',
        'HMAC_SHA_256',
        'RSAES_OAEP_SHA_256',
        'RSAES_OAEP_SHA_1',
        'SYMMETRIC_DEFAULT',
        rsaKey,
      ),
      fc.uint8Array({ minLength: 1, maxLength: 600 }).map((b) => Buffer.from(b).toString('base64')),
      fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 8 }), fc.integer()), {
        maxKeys: 3,
      }),
      fc.array(
        fc.dictionary(
          fc.constantFrom('keyId', 'plaintext', 'ciphertext', 'message'),
          fc.string({ maxLength: 8 }),
          {
            maxKeys: 3,
          },
        ),
        { maxLength: 3 },
      ),
    );
    const field = fc.constantFrom(
      'keyId',
      'plaintext',
      'ciphertext',
      'context',
      'destinationKeyId',
      'destinationContext',
      'sourceKeyId',
      'keySpec',
      'numberOfBytes',
      'includePlaintext',
      'items',
      'message',
      'messageType',
      'signature',
      'mac',
      'algorithm',
      'encryptionAlgorithm',
      'sourceEncryptionAlgorithm',
      'destinationEncryptionAlgorithm',
    );
    const body = fc.oneof(
      fc.dictionary(field, value, { maxKeys: 5 }).map((o) => JSON.stringify(o)),
      fc.json(),
      fc.string({ maxLength: 100 }),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), body, async (path, text) => {
        const res = await rawText(path, text);
        expect(res.status, `${path} ${text}`).toBeLessThan(500);
        expect(
          (res.body as { error?: string }).error ?? (res.status === 200 ? 'ok' : undefined),
        ).toBeDefined();
      }),
      { numRuns: 400, seed: 3 },
    );
  });
});

describe('RSA encryption: random requests never get a 5xx', () => {
  it('property test: RSA keys and algorithms with random plaintexts, ciphertexts and contexts', async () => {
    const rsaKey = (
      await t.client(KEY_MANAGER).createKey({
        keySpec: 'RSA_2048',
        keyUsage: 'ENCRYPT_DECRYPT',
        users: [t.principal(KEY_USER).arn],
      })
    ).key.keyId;
    const keyId = fc.constantFrom(rsaKey, 'alias/eaas-default', 'alias/none');
    const algorithm = fc.option(
      fc.constantFrom('RSAES_OAEP_SHA_256', 'RSAES_OAEP_SHA_1', 'SYMMETRIC_DEFAULT'),
      {
        nil: undefined,
      },
    );
    const bytes = fc
      .uint8Array({ minLength: 1, maxLength: 700 })
      .map((b) => Buffer.from(b).toString('base64'));
    const context = fc.option(fc.constantFrom({}, { tenant: 'acme' }), { nil: undefined });
    const request = fc.oneof(
      fc.record(
        {
          path: fc.constant('/v1/encrypt'),
          keyId,
          encryptionAlgorithm: algorithm,
          plaintext: bytes,
          context,
        },
        { requiredKeys: ['path', 'keyId', 'plaintext'] },
      ),
      fc.record(
        {
          path: fc.constant('/v1/decrypt'),
          keyId,
          encryptionAlgorithm: algorithm,
          ciphertext: bytes,
          context,
        },
        { requiredKeys: ['path', 'ciphertext'] },
      ),
      fc.record(
        {
          path: fc.constant('/v1/re-encrypt'),
          ciphertext: bytes,
          sourceKeyId: keyId,
          destinationKeyId: keyId,
          sourceEncryptionAlgorithm: algorithm,
          destinationEncryptionAlgorithm: algorithm,
          context,
          destinationContext: context,
        },
        { requiredKeys: ['path', 'ciphertext', 'destinationKeyId'] },
      ),
    );
    await fc.assert(
      fc.asyncProperty(request, async ({ path, ...body }) => {
        const text = JSON.stringify(body);
        const res = await rawText(path, text);
        expect(res.status, `${path} ${text.slice(0, 200)}`).toBeLessThan(500);
        expect(
          (res.body as { error?: string }).error ?? (res.status === 200 ? 'ok' : undefined),
        ).toBeDefined();
      }),
      { numRuns: 300, seed: 15 },
    );
  });
});

/** Sends a signed request with a raw text body (the typed client only sends JSON it made). */
async function rawText(path: string, text: string, contentType = 'application/json') {
  const res = await signedFetch({
    endpoint: t.api,
    principal: t.principal(KEY_USER),
    service: 'execute-api',
    path,
    headers: { 'content-type': contentType },
    body: text,
  });
  return { status: res.status, body: res.json ?? res.text };
}

describe('query-string (presigned) SigV4 at the gateway', () => {
  it('accepts a presigned GET within its expiry and refuses it once expired', async () => {
    const { Hash } = await import('@smithy/hash-node');
    const { HttpRequest } = await import('@smithy/protocol-http');
    const { SignatureV4 } = await import('@smithy/signature-v4');
    const p = t.principal(KEY_USER);
    const url = new URL(t.api);
    const signer = new SignatureV4({
      service: 'execute-api',
      region: 'us-east-1',
      credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey },
      sha256: Hash.bind(null, 'sha256'),
    });
    const presign = async (signingDate: Date) => {
      const signed = await signer.presign(
        new HttpRequest({
          method: 'GET',
          hostname: url.hostname,
          port: Number(url.port),
          path: '/v1/whoami',
          headers: { host: url.host },
        }),
        { expiresIn: 60, signingDate },
      );
      const qs = new URLSearchParams(signed.query as Record<string, string>).toString();
      return fetch(`${t.api}/v1/whoami?${qs}`);
    };
    const fresh = await presign(new Date());
    expect(fresh.status).toBe(200);
    expect(await fresh.json()).toMatchObject({ principal: p.arn });
    const stale = await presign(new Date(Date.now() - 120_000));
    expect(stale.status).toBe(403);
    expect(stale.headers.get('x-amzn-errortype')).toBe('InvalidSignatureException');
  });
});

describe('findings of the security review, at the API', () => {
  it('a KMS-format ciphertext too large to be one is the uniform InvalidCiphertext, not a 502', async () => {
    const blob = Buffer.alloc(300_000, 7);
    blob[0] = 0x01;
    blob[1] = 0x4d;
    for (const path of ['/v1/decrypt', '/v1/re-encrypt']) {
      const body: Record<string, unknown> = { ciphertext: blob.toString('base64') };
      if (path === '/v1/re-encrypt') body.destinationKeyId = 'alias/eaas-default';
      const res = await t.client().raw('POST', path, body);
      expect(res.status, path).toBe(400);
      expect(res.body, path).toMatchObject({ error: 'InvalidCiphertext' });
    }
  });

  it('a __proto__ context key is refused', async () => {
    const res = await rawText(
      '/v1/encrypt',
      '{"keyId":"alias/eaas-default","plaintext":"aGk=","context":{"__proto__":"tenantA"}}',
    );
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'ValidationError' });
  });
});

describe('findings of the second review, at the API', () => {
  it('query names that are Object prototype members are plain parameters', async () => {
    for (const name of ['constructor', 'toString', 'hasOwnProperty']) {
      const res = await t.client().raw('GET', '/v1/whoami', undefined, { [name]: 'x' });
      expect(res.status, name).toBe(200);
    }
  });

  it('a malformed key ARN for a payload above 4 KiB is refused as an unknown key (403), not a 500', async () => {
    const res = await t
      .client()
      .raw('POST', '/v1/encrypt', { keyId: 'arn:x', plaintext: Buffer.alloc(5000, 1).toString('base64') });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error: 'AccessDenied' });
  });

  it('a context with a lone surrogate is refused: it would encode like U+FFFD', async () => {
    const res = await t.client().raw('POST', '/v1/encrypt', {
      keyId: 'alias/eaas-default',
      plaintext: 'aGk=',
      context: { tenant: '\ud800' },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'ValidationError' });
  });
});

describe('issue 12, finding 7: the gateway checks what it can before it reads a body, and bounds the bodies it reads', () => {
  const BODY = 5_000_000;
  const json = { 'content-type': 'application/json' };
  const signedAs = async (
    principal: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
    options: { path?: string; length?: number; signingDate?: Date } = {},
  ) => {
    const length = options.length ?? BODY;
    const headers = await signedHeaders(
      t.api,
      { name: 'x', arn: 'x', policies: [], ...principal },
      'execute-api',
      'POST',
      options.path ?? '/v1/encrypt',
      { ...json, 'content-length': String(length) },
      Buffer.alloc(length, 0x61),
      options.signingDate,
    );
    return headers;
  };

  it.each([
    ['an unsigned request', async () => ({ ...json }), 403, 'MissingAuthenticationTokenException'],
    [
      'an unknown route',
      async () => signedAs(t.principal(KEY_USER), { path: '/v1/nothing-here' }),
      403,
      'MissingAuthenticationTokenException',
    ],
    [
      'a malformed Authorization header',
      async () => ({ ...json, authorization: 'AWS4-HMAC-SHA256 Credential=garbage' }),
      403,
      'IncompleteSignatureException',
    ],
    [
      'an unknown access key',
      async () => signedAs({ accessKeyId: 'AKIAXXXXXXXXXXXXXXXX', secretAccessKey: 'y'.repeat(40) }),
      403,
      'UnrecognizedClientException',
    ],
    [
      'a session key without its token',
      async () => {
        const { sessionToken: _token, ...keys } = t.principal(APP_SESSION);
        return signedAs(keys);
      },
      403,
      'UnrecognizedClientException',
    ],
    [
      'a signature dated 20 minutes ago',
      async () => signedAs(t.principal(KEY_USER), { signingDate: new Date(Date.now() - 20 * 60_000) }),
      403,
      'InvalidSignatureException',
    ],
    [
      'a declared payload hash whose signature is wrong',
      async () => ({
        ...(await signedAs({ ...t.principal(KEY_USER), secretAccessKey: 'w'.repeat(40) })),
        'x-amz-content-sha256': sha256Hex(Buffer.alloc(BODY, 0x61)),
      }),
      403,
      'InvalidSignatureException',
    ],
    [
      'an unsigned request that expects 100-continue',
      async () => ({ ...json, expect: '100-continue' }),
      403,
      'MissingAuthenticationTokenException',
    ],
    ['an unsigned body over the payload limit', async () => ({ ...json }), 413, undefined],
  ])(
    '%s is answered from its headers, its body unread, and the connection closed',
    async (what, headersOf, status, type) => {
      const length = status === 413 ? MAX_REQUEST_BYTES + 1 : BODY;
      const path = what === 'an unknown route' ? '/v1/nothing-here' : '/v1/encrypt';
      const before = t.stack.gateway.bodyStats();
      const headers = { ...(await headersOf()), 'content-length': String(length) };
      const exchange = rawExchange({ endpoint: t.api, method: 'POST', path, headers, firstBytes: 1024 });
      // The old gateway read the whole body first: with only 1 KiB of it sent, it never answered.
      const answer = await exchange.answer;
      expect(answer.status).toBe(status);
      if (type) expect(answer.headers['x-amzn-errortype']).toBe(type);
      expect(answer.continued).toBe(false);
      expect(answer.sentBeforeAnswer).toBe(1024);
      expect(answer.headers.connection).toBe('close');
      const after = await exchange.sendRest(length);
      expect(after.closedEarly).toBe(true);
      expect(after.sent).toBeLessThan(length / 2);
      expect(t.stack.gateway.bodyStats().read).toBe(before.read);
      exchange.socket.destroy();
    },
  );

  it('40 unsigned connections sending 6 MB each buffer nothing', async () => {
    const before = t.stack.gateway.bodyStats();
    const length = 6_000_000;
    const exchanges = Array.from({ length: 40 }, () =>
      rawExchange({
        endpoint: t.api,
        method: 'PUT',
        path: '/v1/objects/x',
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(length) },
      }),
    );
    const answers = await Promise.all(exchanges.map((e) => e.answer));
    expect(answers.map((a) => a.status)).toEqual(Array(40).fill(403));
    const rest = await Promise.all(exchanges.map((e) => e.sendRest(length)));
    for (const r of rest) expect(r.closedEarly).toBe(true);
    const after = t.stack.gateway.bodyStats();
    expect(after.read).toBe(before.read);
    expect(after.peak).toBe(before.peak);
    expect(after.reserved).toBe(0);
    for (const e of exchanges) e.socket.destroy();
  });

  it("signed senders of one key that stall hold at most the key's share; past it, 429 at once; other keys are served", async () => {
    const length = 6_000_000;
    const held = Math.floor(BODY_BYTES_PER_KEY / length);
    const headers = await signedAs(t.principal(KEY_USER), { length });
    const before = t.stack.gateway.bodyStats();
    const exchanges = Array.from({ length: 40 }, () =>
      rawExchange({ endpoint: t.api, method: 'POST', path: '/v1/encrypt', headers, timeoutMs: 60_000 }),
    );
    const refused = await firstAnswers(exchanges, 40 - held);
    expect(refused).toHaveLength(40 - held);
    for (const a of refused) {
      expect(a?.status).toBe(429);
      expect(a?.headers['x-amzn-errortype']).toBe('TooManyRequestsException');
      expect(JSON.parse(a?.body ?? '')).toEqual({ message: 'Too Many Requests' });
    }
    const during = t.stack.gateway.bodyStats();
    expect(during.reserved).toBe(held * length);
    expect(during.read - before.read).toBeLessThanOrEqual(held * 1024);
    // Requests without a body are not held up by the bodies in flight, not even the same key's.
    expect((await t.client().raw('GET', '/v1/whoami')).status).toBe(200);
    // Another key's body has room: its request reaches the function (which refuses it on the key's policy).
    const other = await t
      .client(GRANTEE)
      .raw('POST', '/v1/encrypt', { keyId: 'alias/eaas-default', plaintext: 'aGk=' });
    expect(other.status).not.toBe(429);
    expect(other.body).toMatchObject({ requestId: expect.any(String) });
    for (const e of exchanges) e.socket.destroy();
    await expect.poll(() => t.stack.gateway.bodyStats().reserved).toBe(0);
    const res = await t
      .client()
      .raw('POST', '/v1/encrypt', { keyId: 'alias/eaas-default', plaintext: 'aGk=' });
    expect(res.status).toBe(200);
  });

  it('signed senders of every key that stall hold at most the budget of bodies in flight; past it, 429 at once', async () => {
    const budget = t.config.gatewayBodyBytesInFlight;
    const length = 6_000_000;
    const names = [KEY_MANAGER, KEY_USER, SERVICE, GRANTEE, OUTSIDER, APP_SESSION];
    const perKey = 3;
    // Two per key fit in the keys' shares (12 in all); the budget holds fewer than that.
    const held = Math.floor(budget / length);
    expect(held).toBeLessThan(names.length * Math.floor(BODY_BYTES_PER_KEY / length));
    const headersOf = await Promise.all(names.map((n) => signedAs(t.principal(n), { length })));
    const exchanges = headersOf.flatMap((headers) =>
      Array.from({ length: perKey }, () =>
        rawExchange({ endpoint: t.api, method: 'POST', path: '/v1/encrypt', headers, timeoutMs: 60_000 }),
      ),
    );
    const refused = await firstAnswers(exchanges, exchanges.length - held);
    expect(refused.map((a) => a.status)).toEqual(Array(exchanges.length - held).fill(429));
    const during = t.stack.gateway.bodyStats();
    expect(during.reserved).toBe(held * length);
    expect(during.peak).toBeLessThanOrEqual(budget);
    expect((await t.client().raw('GET', '/v1/whoami')).status).toBe(200);
    for (const e of exchanges) e.socket.destroy();
    await expect.poll(() => t.stack.gateway.bodyStats().reserved).toBe(0);
  });

  it('a signed request that expects 100-continue is told to continue, then served', async () => {
    const body = JSON.stringify({ keyId: 'alias/eaas-default', plaintext: 'aGk=' });
    const headers = await signedHeaders(
      t.api,
      t.principal(KEY_USER),
      'execute-api',
      'POST',
      '/v1/encrypt',
      { ...json, 'content-length': String(body.length), expect: '100-continue' },
      body,
    );
    const exchange = rawExchange({
      endpoint: t.api,
      method: 'POST',
      path: '/v1/encrypt',
      headers,
      firstBytes: 0,
    });
    await exchange.continued;
    exchange.socket.write(body);
    const answer = await exchange.answer;
    expect(answer.status).toBe(200);
    expect(answer.continued).toBe(true);
    expect(JSON.parse(answer.body)).toMatchObject({ ciphertext: expect.any(String) });
    exchange.socket.destroy();
  });
});

/** Authorization headers naming an access key id with a signature of zeros: what a sender with the id and not its secret can send. */
function zeroSigned(accessKeyId: string, headers: Record<string, string>): Record<string, string> {
  const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
  const scope = `${amzDate.slice(0, 8)}/${t.config.region}/execute-api/aws4_request`;
  return {
    ...headers,
    'x-amz-date': amzDate,
    authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('issue 12: no caller, and no sender with only a key id, can deny others the gateway', () => {
  const octets = { 'content-type': 'application/octet-stream' };
  const chunked = { ...octets, 'transfer-encoding': 'chunked' };

  /** myKeyUser's own signed requests with a body, as the typed client sends them: both must be served at once. */
  async function keyUserIsServed(): Promise<void> {
    const started = Date.now();
    const put = await t
      .client()
      .rawBytes(
        'PUT',
        `/v1/objects/${encodeURIComponent('dos/victim.txt')}`,
        Buffer.from('hello'),
        { keyId: 'alias/eaas-default' },
        'text/plain',
      );
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const enc = await t
      .client()
      .raw('POST', '/v1/encrypt', { keyId: 'alias/eaas-default', plaintext: 'aGk=' });
    expect(enc.status, JSON.stringify(enc.body)).toBe(200);
    expect(Date.now() - started).toBeLessThan(5_000);
  }

  async function hangUp(exchanges: readonly RawExchange[]): Promise<void> {
    for (const e of exchanges) e.socket.destroy();
    await expect.poll(() => t.stack.gateway.bodyStats().reserved).toBe(0);
  }

  it("the review's attack: 10 chunked senders trickling one byte and one declaring the rest of the budget, with myOutsider's key id and no secret, deny myKeyUser nothing", async () => {
    const budget = t.config.gatewayBodyBytesInFlight;
    const outsider = t.principal(OUTSIDER).accessKeyId;
    const rest = budget - 10 * MAX_REQUEST_BYTES;
    const before = t.stack.gateway.bodyStats();
    const exchanges = [
      ...Array.from({ length: 10 }, (_, i) =>
        rawExchange({
          endpoint: t.api,
          method: 'PUT',
          path: `/v1/objects/x${i}`,
          headers: zeroSigned(outsider, chunked),
          chunked: true,
          firstBytes: 1,
          timeoutMs: 60_000,
        }),
      ),
      rawExchange({
        endpoint: t.api,
        method: 'PUT',
        path: '/v1/objects/x10',
        headers: zeroSigned(outsider, { ...octets, 'content-length': String(rest) }),
        firstBytes: 1024,
        timeoutMs: 60_000,
      }),
    ];
    // Every attacking request is in: its first bytes were read.
    await expect.poll(() => t.stack.gateway.bodyStats().read - before.read).toBe(10 + 1024);
    // The old gateway reserved 6 MiB for each chunked body: the budget was full, and these were 429.
    await keyUserIsServed();
    // The chunked bodies hold the bytes they sent, not a payload each; none of the senders was answered yet.
    expect(t.stack.gateway.bodyStats().reserved).toBe(rest + 10);
    for (const e of exchanges) expect(e.closed).toBe(false);
    await hangUp(exchanges);
  });

  it('senders with every key id and no secret hold at most half the budget and a share per key id; signed callers are served', async () => {
    const budget = t.config.gatewayBodyBytesInFlight;
    const length = 6_000_000;
    // myKeyUser's own key id too: a sender without its secret takes none of its signed requests' room.
    const ids = [KEY_MANAGER, KEY_USER, SERVICE, GRANTEE, OUTSIDER].map((n) => t.principal(n).accessKeyId);
    const perId = 3;
    const held = Math.floor(budget / 2 / length);
    expect(held).toBeLessThan(ids.length * Math.floor(BODY_BYTES_PER_KEY / length));
    const exchanges = ids.flatMap((id) =>
      Array.from({ length: perId }, () =>
        rawExchange({
          endpoint: t.api,
          method: 'POST',
          path: '/v1/encrypt',
          headers: zeroSigned(id, { 'content-type': 'application/json', 'content-length': String(length) }),
          timeoutMs: 60_000,
        }),
      ),
    );
    const refused = await firstAnswers(exchanges, exchanges.length - held);
    expect(refused.map((a) => a.status)).toEqual(Array(exchanges.length - held).fill(429));
    expect(t.stack.gateway.bodyStats().reserved).toBe(held * length);
    // No one key id holds more than its share.
    const heldPerId = ids.map(
      (_, i) => exchanges.slice(i * perId, (i + 1) * perId).filter((e) => !e.closed).length,
    );
    for (const n of heldPerId) expect(n * length).toBeLessThanOrEqual(BODY_BYTES_PER_KEY);
    await keyUserIsServed();
    await hangUp(exchanges);
  });

  it("a chunked body holds its bytes as they arrive, and past its key id's share is 429 mid-body, the connection closed", async () => {
    const outsider = t.principal(OUTSIDER).accessKeyId;
    const length = 6_000_000;
    const declared = Array.from({ length: 2 }, () =>
      rawExchange({
        endpoint: t.api,
        method: 'PUT',
        path: '/v1/objects/declared',
        headers: zeroSigned(outsider, { ...octets, 'content-length': String(length) }),
        timeoutMs: 60_000,
      }),
    );
    await expect.poll(() => t.stack.gateway.bodyStats().reserved).toBe(2 * length);
    const stream = rawExchange({
      endpoint: t.api,
      method: 'PUT',
      path: '/v1/objects/streamed',
      headers: zeroSigned(outsider, chunked),
      chunked: true,
      firstBytes: 1024,
      timeoutMs: 10_000,
    });
    await expect.poll(() => t.stack.gateway.bodyStats().reserved).toBe(2 * length + 1024);
    const after = await stream.sendRest(2 * 1024 * 1024);
    const answer = await stream.answer;
    expect(answer.status).toBe(429);
    expect(answer.headers['x-amzn-errortype']).toBe('TooManyRequestsException');
    expect(answer.headers.connection).toBe('close');
    expect(after.closedEarly).toBe(true);
    await expect.poll(() => t.stack.gateway.bodyStats().reserved).toBe(2 * length);
    await keyUserIsServed();
    await hangUp(declared);
  });

  describe('a body must arrive within its deadline', () => {
    const baseMs = 400;
    const msPerMiB = 200;
    let gateway: Awaited<ReturnType<typeof startGateway>>;
    // The functions behind this second gateway (same identities, short deadline) only echo the body's size.
    const echo: LambdaHandler = async (event) => ({
      statusCode: 200,
      body: JSON.stringify({
        size:
          event.body === null ? 0 : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8').length,
      }),
    });
    const functions = Object.fromEntries(
      (['crypto', 'jobs', 'keys', 'objects', 'uploads', 'whoami'] satisfies FunctionName[]).map((n) => [
        n,
        echo,
      ]),
    ) as Record<FunctionName, LambdaHandler>;

    beforeAll(async () => {
      gateway = await startGateway({
        host: '127.0.0.1',
        port: 0,
        region: t.config.region,
        accountId: t.config.accountId,
        identities: t.stack.kms.identities,
        functions,
        maxSkewSeconds: t.config.sigv4MaxSkewSeconds,
        bodyTimeout: { baseMs, msPerMiB },
      });
    });
    afterAll(() => gateway.close());

    async function cutOff(exchange: RawExchange, deadlineMs: number): Promise<EarlyAnswer> {
      const started = Date.now();
      const stop = exchange.trickle(50);
      const answer = await exchange.answer;
      stop();
      const took = Date.now() - started;
      expect(answer.status).toBe(408);
      expect(JSON.parse(answer.body)).toEqual({ message: 'Request Timeout' });
      expect(answer.headers.connection).toBe('close');
      expect(took).toBeGreaterThanOrEqual(deadlineMs - 100);
      expect(took).toBeLessThan(deadlineMs + 2_000);
      await expect.poll(() => exchange.closed).toBe(true);
      await expect.poll(() => gateway.bodyStats().reserved).toBe(0);
      return answer;
    }

    it('a chunked body trickling one byte at a time is answered 408 at the deadline, its connection closed and its room released', async () => {
      const exchange = rawExchange({
        endpoint: gateway.endpoint,
        method: 'PUT',
        path: '/v1/objects/slow',
        headers: zeroSigned(t.principal(OUTSIDER).accessKeyId, chunked),
        chunked: true,
        firstBytes: 1,
        timeoutMs: 10_000,
      });
      // Chunked: the payload limit's 6 MiB count toward the deadline.
      await cutOff(exchange, baseMs + 6 * msPerMiB);
    });

    it('a declared body that trickles is answered 408 at its deadline (base plus its MiB)', async () => {
      const length = 2 * 1024 * 1024;
      const exchange = rawExchange({
        endpoint: gateway.endpoint,
        method: 'PUT',
        path: '/v1/objects/slow',
        headers: zeroSigned(t.principal(OUTSIDER).accessKeyId, {
          ...octets,
          'content-length': String(length),
        }),
        firstBytes: 1024,
        timeoutMs: 10_000,
      });
      await cutOff(exchange, baseMs + 2 * msPerMiB);
    });

    it('a body sent at once is served, and a request without a body waits for nothing', async () => {
      const p = t.principal(KEY_USER);
      const client = new EaasClient({
        endpoint: gateway.endpoint,
        region: t.config.region,
        credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey },
      });
      const res = await client.rawBytes('PUT', '/v1/objects/quick', Buffer.alloc(1024 * 1024, 0x61));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ size: 1024 * 1024 });
      await sleep(baseMs + msPerMiB);
      expect((await client.raw('GET', '/v1/whoami')).status).toBe(200);
      expect(gateway.bodyStats().reserved).toBe(0);
    });
  });
});
