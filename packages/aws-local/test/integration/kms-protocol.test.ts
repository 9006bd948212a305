import { ListKeysCommand } from '@aws-sdk/client-kms';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_MANAGER, KEY_USER } from '../../src/identity.js';
import { MAX_BODY_BYTES, MAX_BODY_BYTES_IN_FLIGHT, MAX_BODY_BYTES_PER_KEY } from '../../src/kms/server.js';
import { errorOf } from '../helpers/errors.js';
import { clientFor, startTestKms, type TestKms } from '../helpers/local-kms.js';
import { firstAnswers, rawExchange, signedHeaders } from '../helpers/raw-http.js';
import { kmsRaw } from '../helpers/signed-fetch.js';

let t: TestKms;
let endpoint: string;

beforeAll(async () => {
  t = await startTestKms();
  endpoint = t.kms.endpoint;
});
afterAll(() => t.stop());

const user = () => t.principal(KEY_USER);

function errorType(json: unknown): string | undefined {
  return (json as { __type?: string } | undefined)?.__type;
}

describe('the KMS JSON 1.1 wire protocol', () => {
  it('answers a signed request with application/x-amz-json-1.1 and a request id', async () => {
    const res = await kmsRaw(endpoint, user(), 'TrentService.GenerateRandom', '{"NumberOfBytes":8}');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-amz-json-1.1');
    expect(res.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(Buffer.from((res.json as { Plaintext: string }).Plaintext, 'base64')).toHaveLength(8);
  });

  it('errors carry __type, message and x-amzn-ErrorType', async () => {
    const res = await kmsRaw(endpoint, user(), 'TrentService.DescribeKey', '{"KeyId":"alias/none"}');
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ __type: 'NotFoundException', message: expect.stringContaining('alias/none') });
    expect(res.headers.get('x-amzn-errortype')).toBe('NotFoundException');
  });

  it.each([
    ['malformed JSON', 'TrentService.Encrypt', '{"KeyId":', 400, 'SerializationException'],
    ['a JSON array body', 'TrentService.Encrypt', '[]', 400, 'SerializationException'],
    [
      'a wrong member type',
      'TrentService.Encrypt',
      '{"KeyId":5,"Plaintext":"aGk="}',
      400,
      'SerializationException',
    ],
    [
      'bad base64 in a blob',
      'TrentService.Encrypt',
      '{"KeyId":"alias/eaas-default","Plaintext":"***"}',
      400,
      'SerializationException',
    ],
    ['a missing required member', 'TrentService.Encrypt', '{"Plaintext":"aGk="}', 400, 'ValidationException'],
    ['an empty KeyId', 'TrentService.Encrypt', '{"KeyId":"","Plaintext":"aGk="}', 400, 'ValidationException'],
    [
      'an oversize KeyId',
      'TrentService.DescribeKey',
      JSON.stringify({ KeyId: 'k'.repeat(2049) }),
      400,
      'ValidationException',
    ],
    [
      'an unknown enum value',
      'TrentService.GenerateDataKey',
      '{"KeyId":"alias/eaas-default","KeySpec":"AES_512"}',
      400,
      'ValidationException',
    ],
    ['an unknown operation', 'TrentService.MakeCoffee', '{}', 400, 'UnknownOperationException'],
    ['a missing target prefix', 'Encrypt', '{}', 400, 'UnknownOperationException'],
    [
      'a KMS operation the local KMS lacks',
      'TrentService.ReplicateKey',
      '{}',
      400,
      'UnsupportedOperationException',
    ],
  ])('answers %s with %i %s', async (_what, target, body, status, type) => {
    const res = await kmsRaw(endpoint, user(), target, body);
    expect(res.status).toBe(status);
    expect(errorType(res.json)).toBe(type);
    expect(typeof (res.json as { message?: unknown }).message).toBe('string');
  });

  it('names the member and constraint in a ValidationException, as KMS does', async () => {
    const res = await kmsRaw(endpoint, user(), 'TrentService.Encrypt', '{"Plaintext":"aGk="}');
    expect((res.json as { message: string }).message).toBe(
      "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null",
    );
  });

  it('refuses a wrong Content-Type', async () => {
    const res = await kmsRaw(endpoint, user(), 'TrentService.ListKeys', '{}', {
      'content-type': 'text/plain',
    });
    expect(res.status).toBe(400);
    expect(errorType(res.json)).toBe('SerializationException');
  });

  it('refuses a body over the size bound with 413', async () => {
    const res = await kmsRaw(
      endpoint,
      user(),
      'TrentService.ListKeys',
      JSON.stringify({ pad: 'x'.repeat(300 * 1024) }),
    );
    expect(res.status).toBe(413);
    expect(errorType(res.json)).toBe('RequestEntityTooLargeException');
  });
});

describe('SigV4 at the local KMS', () => {
  it('refuses an unsigned request: MissingAuthenticationTokenException', async () => {
    const res = await kmsRaw(endpoint, undefined, 'TrentService.ListKeys', '{}');
    expect(res.status).toBe(403);
    expect(errorType(res.json)).toBe('MissingAuthenticationTokenException');
  });

  it('refuses a wrong secret: InvalidSignatureException', async () => {
    const wrong = { ...user(), secretAccessKey: 'not-the-secret-at-all-0123456789abcdefghij' };
    const res = await kmsRaw(endpoint, wrong, 'TrentService.ListKeys', '{}');
    expect(res.status).toBe(400);
    expect(errorType(res.json)).toBe('InvalidSignatureException');
  });

  it('refuses a signature for another region: InvalidSignatureException naming the region it expects', async () => {
    const elsewhere = clientFor(endpoint, user(), 'eu-west-1');
    const error = await errorOf(elsewhere.send(new ListKeysCommand({})));
    elsewhere.destroy();
    expect(error).toMatchObject({ name: 'InvalidSignatureException', status: 400 });
    expect(error.message).toBe(
      "Credential should be scoped to a valid region, not 'eu-west-1'; this endpoint expects 'us-east-1'.",
    );
  });

  it('refuses an unknown access key: UnrecognizedClientException', async () => {
    const stranger = { ...user(), accessKeyId: 'AKIAUNKNOWNUNKNOWN00' };
    const res = await kmsRaw(endpoint, stranger, 'TrentService.ListKeys', '{}');
    expect(errorType(res.json)).toBe('UnrecognizedClientException');
  });

  it('refuses a body changed after signing', async () => {
    const res = await kmsRaw(
      endpoint,
      user(),
      'TrentService.GenerateRandom',
      '{"NumberOfBytes":8}',
      {},
      {
        sendBody: '{"NumberOfBytes":9}',
      },
    );
    expect(res.status).toBe(400);
    expect(errorType(res.json)).toBe('InvalidSignatureException');
  });

  it('refuses a signature older than the clock-skew bound', async () => {
    const res = await kmsRaw(
      endpoint,
      user(),
      'TrentService.ListKeys',
      '{}',
      {},
      {
        signingDate: new Date(Date.now() - 20 * 60_000),
      },
    );
    expect(errorType(res.json)).toBe('InvalidSignatureException');
    expect((res.json as { message: string }).message).toContain('Signature expired');
  });
});

describe('robustness', () => {
  const targets = [
    'Encrypt',
    'Decrypt',
    'ReEncrypt',
    'GenerateDataKey',
    'CreateKey',
    'CreateAlias',
    'CreateGrant',
    'ListKeys',
    'ScheduleKeyDeletion',
    'PutKeyPolicy',
    'TagResource',
    'RetireGrant',
  ];
  const value = fc.oneof(
    fc.string(),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.base64String(),
    fc.array(fc.string(), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
  );
  const member = fc.constantFrom(
    'KeyId',
    'Plaintext',
    'CiphertextBlob',
    'EncryptionContext',
    'DestinationKeyId',
    'NumberOfBytes',
    'KeySpec',
    'AliasName',
    'TargetKeyId',
    'GranteePrincipal',
    'Operations',
    'Constraints',
    'Limit',
    'Marker',
    'Policy',
    'Tags',
    'PendingWindowInDays',
    'GrantToken',
  );
  const body = fc.oneof(
    fc.dictionary(member, value, { maxKeys: 5 }).map((o) => JSON.stringify(o)),
    fc.string({ maxLength: 200 }),
    fc.json(),
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')),
  );

  it('a few hundred malformed requests get 4xx JSON errors, never a 5xx, and the server stays up', async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...targets), body, async (target, payload) => {
        const res = await kmsRaw(endpoint, user(), `TrentService.${target}`, payload);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        expect(res.status, `${target} ${payload}`).toBeLessThan(500);
        if (res.status !== 200) expect(typeof errorType(res.json)).toBe('string');
      }),
      { numRuns: 300, seed: 20261128 },
    );
    expect([...statuses.keys()].some((s) => s >= 400)).toBe(true);
    const alive = await kmsRaw(endpoint, user(), 'TrentService.GenerateRandom', '{"NumberOfBytes":4}');
    expect(alive.status).toBe(200);
  });

  it('an empty body is an empty input, as the SDK sends for operations without members', async () => {
    const res = await kmsRaw(endpoint, user(), 'TrentService.ListKeys', '');
    expect(res.status).toBe(200);
    expect((res.json as { Keys: unknown[] }).Keys.length).toBeGreaterThan(0);
  });
});

describe('findings of the security review, at the local KMS', () => {
  it('a context value over 64 KiB is a ValidationException, not a 500', async () => {
    const body = JSON.stringify({
      KeyId: 'alias/eaas-default',
      Plaintext: 'aGk=',
      EncryptionContext: { a: 'v'.repeat(70_000) },
    });
    const res = await kmsRaw(endpoint, user(), 'TrentService.Encrypt', body);
    expect(res.status).toBe(400);
    expect(errorType(res.json)).toBe('ValidationException');
  });

  it('a __proto__ member is refused rather than silently dropped from the bound context', async () => {
    const body =
      '{"KeyId":"alias/eaas-default","Plaintext":"aGk=","EncryptionContext":{"__proto__":"tenantA"}}';
    const res = await kmsRaw(endpoint, user(), 'TrentService.Encrypt', body);
    expect(res.status).toBe(400);
    expect(errorType(res.json)).toBe('ValidationException');
  });

  it('a validation error never quotes the plaintext back', async () => {
    const secret = Buffer.from('TOP-SECRET-PAYLOAD-'.repeat(300));
    const res = await kmsRaw(
      endpoint,
      user(),
      'TrentService.Encrypt',
      JSON.stringify({ KeyId: 'alias/eaas-default', Plaintext: secret.toString('base64') }),
    );
    expect(errorType(res.json)).toBe('ValidationException');
    expect(res.text).not.toContain(secret.toString('base64').slice(0, 16));
  });

  it('a session token the local KMS never issued is refused', async () => {
    const res = await kmsRaw(endpoint, user(), 'TrentService.ListKeys', '{}', {
      'x-amz-security-token': 'bogus',
    });
    expect(res.status).toBe(400);
    expect(errorType(res.json)).toBe('UnrecognizedClientException');
  });

  it('UNSIGNED-PAYLOAD does not let a different body through', async () => {
    const res = await kmsRaw(
      endpoint,
      user(),
      'TrentService.GenerateRandom',
      '{"NumberOfBytes":8}',
      { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
      {
        sendBody: '{"NumberOfBytes":9}',
      },
    );
    expect(errorType(res.json)).toBe('InvalidSignatureException');
  });
});

describe('issue 12, finding 7, at the local KMS: signatures are checked before bodies are read, bodies are bounded', () => {
  const kmsHeaders = {
    'content-type': 'application/x-amz-json-1.1',
    'x-amz-target': 'TrentService.ListKeys',
  };
  const signedFor = (length: number, principal = user()) =>
    signedHeaders(
      endpoint,
      principal,
      'kms',
      'POST',
      '/',
      { ...kmsHeaders, 'content-length': String(length) },
      Buffer.alloc(length, 0x61),
    );

  it.each([
    [
      'an unsigned request',
      async () => ({ ...kmsHeaders }),
      200_000,
      403,
      'MissingAuthenticationTokenException',
    ],
    [
      'an unknown access key',
      async () => signedFor(200_000, { ...user(), accessKeyId: 'AKIAUNKNOWNUNKNOWN00' }),
      200_000,
      400,
      'UnrecognizedClientException',
    ],
    [
      'a signed body over the size bound',
      async () => signedFor(MAX_BODY_BYTES + 1),
      MAX_BODY_BYTES + 1,
      413,
      'RequestEntityTooLargeException',
    ],
  ])('%s is answered from its headers, its body unread', async (_what, headersOf, length, status, type) => {
    const before = t.kms.bodyStats();
    const headers = { ...(await headersOf()), 'content-length': String(length) };
    const exchange = rawExchange({ endpoint, method: 'POST', path: '/', headers, firstBytes: 1024 });
    // The old server read the whole body first: with only 1 KiB of it sent, it never answered.
    const answer = await exchange.answer;
    expect(answer.status).toBe(status);
    expect(JSON.parse(answer.body)).toMatchObject({ __type: type });
    expect(answer.headers.connection).toBe('close');
    expect((await exchange.sendRest(length)).closedEarly).toBe(true);
    expect(t.kms.bodyStats().read).toBe(before.read);
    exchange.socket.destroy();
  });

  it('senders under one key id hold at most its share; past it, ThrottlingException; other keys are served', async () => {
    const held = Math.floor(MAX_BODY_BYTES_PER_KEY / MAX_BODY_BYTES);
    // Stalled after their headers: whoever knows only the key id can send these (the signature
    // covers the body's hash, so it is checked once the body is in).
    const headers = await signedFor(MAX_BODY_BYTES);
    const exchanges = Array.from({ length: held + 8 }, () =>
      rawExchange({ endpoint, method: 'POST', path: '/', headers, timeoutMs: 60_000 }),
    );
    const answers = await firstAnswers(exchanges, 8);
    expect(answers).toHaveLength(8);
    for (const a of answers) expect(JSON.parse(a.body)).toMatchObject({ __type: 'ThrottlingException' });
    expect(t.kms.bodyStats().reserved).toBe(held * MAX_BODY_BYTES);
    expect(t.kms.bodyStats().peak).toBeLessThanOrEqual(MAX_BODY_BYTES_IN_FLIGHT);
    // Another key id is served at once meanwhile.
    expect((await kmsRaw(endpoint, t.principal(KEY_MANAGER), 'TrentService.ListKeys', '{}')).status).toBe(
      200,
    );
    for (const e of exchanges) e.socket.destroy();
    await expect.poll(() => t.kms.bodyStats().reserved).toBe(0);
    expect((await kmsRaw(endpoint, user(), 'TrentService.ListKeys', '{}')).status).toBe(200);
  });

  it('a chunked body reserves its bytes as they arrive, and a body that trickles is cut off at its deadline', async () => {
    const slow = await startTestKms({ bodyTimeoutMs: 500 });
    try {
      const headers = await signedHeaders(
        slow.kms.endpoint,
        slow.principal(KEY_USER),
        'kms',
        'POST',
        '/',
        { ...kmsHeaders, 'transfer-encoding': 'chunked' },
        Buffer.from('{}'),
      );
      const exchange = rawExchange({
        endpoint: slow.kms.endpoint,
        method: 'POST',
        path: '/',
        headers,
        chunked: true,
        firstBytes: 1,
        timeoutMs: 5000,
      });
      // One byte sent: one byte held, not a whole body up front.
      await expect.poll(() => slow.kms.bodyStats().reserved).toBe(1);
      const answer = await exchange.answer;
      expect(answer.status).toBe(408);
      expect(JSON.parse(answer.body)).toMatchObject({ __type: 'RequestTimeoutException' });
      await expect.poll(() => slow.kms.bodyStats().reserved).toBe(0);
      exchange.socket.destroy();
    } finally {
      await slow.stop();
    }
  });
});
