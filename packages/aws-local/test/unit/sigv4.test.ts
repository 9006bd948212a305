import { createHash } from 'node:crypto';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import {
  checkSigV4Headers,
  checkSigV4Payload,
  type SignedRequest,
  UNSIGNED_PAYLOAD,
  type VerifyOptions,
  verifySigV4,
} from '../../src/sigv4.js';

const credentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};
const NOW = new Date('2026-11-28T12:00:00Z');

function options(overrides: Partial<VerifyOptions> = {}): VerifyOptions {
  return {
    service: 'execute-api',
    region: 'us-east-1',
    now: NOW,
    maxSkewSeconds: 300,
    doubleEncodePath: true,
    secretFor: (id) => (id === credentials.accessKeyId ? credentials.secretAccessKey : undefined),
    ...overrides,
  };
}

function signer(service = 'execute-api', uriEscapePath = true) {
  return new SignatureV4({
    service,
    region: 'us-east-1',
    credentials,
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath,
  });
}

function toWire(req: HttpRequest, body = ''): SignedRequest {
  const rawQuery = Object.entries(req.query ?? {})
    .flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x]) : [[k, v ?? '']]))
    .map(([k, v]) => `${encodeURIComponent(k as string)}=${encodeURIComponent(v as string)}`)
    .join('&');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = v;
  return {
    method: req.method,
    rawPath: req.path,
    rawQuery,
    headers,
    bodySha256: createHash('sha256').update(body).digest('hex'),
  };
}

function request(path: string, body = '', query: Record<string, string> = {}) {
  return new HttpRequest({
    method: 'POST',
    hostname: '127.0.0.1',
    port: 3000,
    path,
    query,
    headers: { host: '127.0.0.1:3000', 'content-type': 'application/json' },
    body,
  });
}

describe('verifySigV4, header form', () => {
  it('accepts a request signed by @smithy/signature-v4', async () => {
    const signed = await signer().sign(request('/v1/encrypt', '{"a":1}'), { signingDate: NOW });
    expect(verifySigV4(toWire(signed as HttpRequest, '{"a":1}'), options())).toMatchObject({
      ok: true,
      accessKeyId: 'AKIDEXAMPLE',
    });
  });

  it('accepts paths with encoded characters and query strings (double-encoded canonical path)', async () => {
    const path = `/v1/objects/${encodeURIComponent('a folder/report (final) ü.pdf')}`;
    const signed = await signer().sign(request(path, '', { b: '2', a: 'x y', 'X-Odd': '!*' }), {
      signingDate: NOW,
    });
    expect(verifySigV4(toWire(signed as HttpRequest), options()).ok).toBe(true);
  });

  it('accepts the S3 form: path not double-encoded, declared UNSIGNED-PAYLOAD', async () => {
    const req = request('/bucket/key%20with%20space');
    req.headers['x-amz-content-sha256'] = UNSIGNED_PAYLOAD;
    const signed = await signer('s3', false).sign(req, { signingDate: NOW });
    expect(
      verifySigV4(
        toWire(signed as HttpRequest),
        options({ service: 's3', doubleEncodePath: false, unsignedPayloadAllowed: true }),
      ).ok,
    ).toBe(true);
  });

  it('Precondition: the request is signed. Unsigned is MissingAuthentication', () => {
    const result = verifySigV4({ method: 'GET', rawPath: '/', rawQuery: '', headers: {} }, options());
    expect(result).toEqual({
      ok: false,
      failure: 'MissingAuthentication',
      message: 'Missing Authentication Token',
    });
  });

  it('Precondition: the signature matches. A changed body, header, path or secret is SignatureMismatch', async () => {
    const signed = (await signer().sign(request('/v1/encrypt', 'body'), { signingDate: NOW })) as HttpRequest;
    const wire = toWire(signed, 'body');
    expect(
      verifySigV4({ ...wire, bodySha256: createHash('sha256').update('other').digest('hex') }, options()),
    ).toMatchObject({
      failure: 'SignatureMismatch',
    });
    expect(verifySigV4({ ...wire, rawPath: '/v1/decrypt' }, options())).toMatchObject({
      failure: 'SignatureMismatch',
    });
    expect(
      verifySigV4({ ...wire, headers: { ...wire.headers, host: 'evil:3000' } }, options()),
    ).toMatchObject({
      failure: 'SignatureMismatch',
    });
    expect(verifySigV4(wire, options({ secretFor: () => 'another-secret' }))).toMatchObject({
      failure: 'SignatureMismatch',
    });
  });

  it('Precondition: the access key is known. An unknown one is UnknownAccessKey', async () => {
    const signed = (await signer().sign(request('/'), { signingDate: NOW })) as HttpRequest;
    expect(verifySigV4(toWire(signed), options({ secretFor: () => undefined }))).toMatchObject({
      failure: 'UnknownAccessKey',
    });
  });

  it('Precondition: the scope names this service and region', async () => {
    const signed = (await signer('kms').sign(request('/'), { signingDate: NOW })) as HttpRequest;
    expect(verifySigV4(toWire(signed), options())).toMatchObject({ failure: 'SignatureMismatch' });
    expect(verifySigV4(toWire(signed), options({ service: 'kms', region: 'eu-west-1' }))).toMatchObject({
      failure: 'WrongRegion',
    });
  });

  it('a signature for another region names the region the endpoint expects', async () => {
    const signed = (await signer('kms').sign(request('/'), { signingDate: NOW })) as HttpRequest;
    const result = verifySigV4(toWire(signed), options({ service: 'kms', region: 'eu-west-1' }));
    expect(result).toMatchObject({ ok: false, failure: 'WrongRegion' });
    expect(result.ok ? '' : result.message).toBe(
      "Credential should be scoped to a valid region, not 'us-east-1'; this endpoint expects 'eu-west-1'.",
    );
  });

  it('Precondition: the clock skew is within bounds, either way', async () => {
    for (const minutes of [-6, 6]) {
      const at = new Date(NOW.getTime() + minutes * 60_000);
      const signed = (await signer().sign(request('/'), { signingDate: at })) as HttpRequest;
      expect(verifySigV4(toWire(signed), options())).toMatchObject({ failure: 'ClockSkew' });
    }
    const near = (await signer().sign(request('/'), {
      signingDate: new Date(NOW.getTime() - 4 * 60_000),
    })) as HttpRequest;
    expect(verifySigV4(toWire(near), options()).ok).toBe(true);
  });

  it('a malformed Authorization header is IncompleteSignature', () => {
    for (const authorization of [
      'AWS4-HMAC-SHA256 Credential=x',
      'Basic abc',
      'AWS4-HMAC-SHA256 Credential=a/b/c, SignedHeaders=host, Signature=00',
    ]) {
      const result = verifySigV4(
        {
          method: 'GET',
          rawPath: '/',
          rawQuery: '',
          headers: { authorization, 'x-amz-date': '20261128T120000Z' },
        },
        options(),
      );
      expect(result, authorization).toMatchObject({ ok: false, failure: 'IncompleteSignature' });
    }
  });
});

describe('verifySigV4, query-string (presigned) form', () => {
  it('accepts a presigned URL within its expiry and refuses it after', async () => {
    const presigned = (await signer().presign(request('/v1/whoami'), {
      signingDate: NOW,
      expiresIn: 60,
    })) as HttpRequest;
    const wire = toWire(presigned);
    expect(verifySigV4(wire, options())).toMatchObject({ ok: true, presigned: true });
    const later = new Date(NOW.getTime() + 61_000);
    expect(verifySigV4(wire, options({ now: later }))).toMatchObject({ failure: 'RequestExpired' });
  });

  it('refuses a presigned URL whose query was changed', async () => {
    const presigned = (await signer().presign(request('/v1/whoami', '', { keyId: 'a' }), {
      signingDate: NOW,
    })) as HttpRequest;
    const wire = toWire(presigned);
    expect(
      verifySigV4({ ...wire, rawQuery: wire.rawQuery.replace('keyId=a', 'keyId=b') }, options()),
    ).toMatchObject({
      failure: 'SignatureMismatch',
    });
  });

  it('refuses an expiry over seven days', () => {
    const rawQuery =
      'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261128%2Fus-east-1%2Fexecute-api%2Faws4_request&X-Amz-Date=20261128T120000Z&X-Amz-Expires=604801&X-Amz-SignedHeaders=host&X-Amz-Signature=00';
    expect(
      verifySigV4({ method: 'GET', rawPath: '/', rawQuery, headers: { host: 'h' } }, options()),
    ).toMatchObject({
      failure: 'IncompleteSignature',
    });
  });
});

describe('findings of the security review', () => {
  it('outside S3, a declared UNSIGNED-PAYLOAD does not free the body from the signature', async () => {
    const req = request('/v1/encrypt', 'signed body');
    req.headers['x-amz-content-sha256'] = UNSIGNED_PAYLOAD;
    const signed = (await signer().sign(req, { signingDate: NOW })) as HttpRequest;
    expect(verifySigV4(toWire(signed, 'another body'), options())).toMatchObject({
      ok: false,
      failure: 'SignatureMismatch',
    });
    expect(verifySigV4(toWire(signed, 'signed body'), options())).toMatchObject({
      ok: false,
      failure: 'SignatureMismatch',
    });
  });

  it('a signed header name that is an Object prototype member is refused, not a crash', () => {
    const authorization =
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261128/us-east-1/execute-api/aws4_request, SignedHeaders=constructor;host;x-amz-date, Signature=00';
    const headers = { authorization, host: 'h', 'x-amz-date': '20261128T120000Z' };
    expect(verifySigV4({ method: 'GET', rawPath: '/', rawQuery: '', headers }, options()).ok).toBe(false);
    const upper = authorization.replace('constructor;', 'Content-Type;');
    expect(
      verifySigV4(
        { method: 'GET', rawPath: '/', rawQuery: '', headers: { ...headers, authorization: upper } },
        options(),
      ),
    ).toMatchObject({
      failure: 'IncompleteSignature',
    });
  });

  it('a session token is refused unless the server knows it', async () => {
    const req = request('/v1/whoami');
    req.headers['x-amz-security-token'] = 'bogus';
    const signed = (await signer().sign(req, { signingDate: NOW })) as HttpRequest;
    expect(verifySigV4(toWire(signed), options())).toMatchObject({ ok: false, failure: 'UnknownAccessKey' });
    expect(
      verifySigV4(toWire(signed), options({ sessionTokenValid: (_id, t) => t === 'bogus' })),
    ).toMatchObject({ ok: true, sessionToken: 'bogus' });
  });

  it('a header required to be signed must be signed', async () => {
    const req = request('/');
    req.headers['x-amz-target'] = 'TrentService.ListKeys';
    const signed = (await signer('kms').sign(req, {
      signingDate: NOW,
      unsignableHeaders: new Set(['x-amz-target']),
    })) as HttpRequest;
    expect(
      verifySigV4(toWire(signed), options({ service: 'kms', requiredSignedHeaders: ['x-amz-target'] })),
    ).toMatchObject({
      failure: 'SignatureMismatch',
    });
  });
});

describe('checkSigV4Headers then checkSigV4Payload: what is checked before the body, and after (issue 12, finding 7)', () => {
  it('the headers pass without the body; the signature is then checked over the body that arrives', async () => {
    const body = '{"keyId":"k","plaintext":"aGk="}';
    const wire = toWire(
      (await signer().sign(request('/v1/encrypt', body), { signingDate: NOW })) as HttpRequest,
      body,
    );
    const { bodySha256: _unknownYet, ...headersOnly } = wire;
    const checked = checkSigV4Headers(headersOnly, options());
    expect(checked).toMatchObject({ ok: true, accessKeyId: 'AKIDEXAMPLE', presigned: false });
    if (!checked.ok) return;
    // What the callers hold names no secret and no signing key.
    expect(JSON.stringify(checked)).not.toContain(credentials.secretAccessKey);
    expect(Object.keys(checked).sort()).toEqual(['accessKeyId', 'ok', 'presigned', 'sessionToken']);
    expect(checkSigV4Payload(wire, checked, options())).toMatchObject({ ok: true });
    const other = createHash('sha256').update(`${body} `).digest('hex');
    expect(checkSigV4Payload({ ...wire, bodySha256: other }, checked, options())).toMatchObject({
      ok: false,
      failure: 'SignatureMismatch',
    });
  });

  it.each([
    ['no signature', {}, 'MissingAuthentication'],
    [
      'a malformed Authorization header',
      { authorization: 'AWS4-HMAC-SHA256 Credential=x' },
      'IncompleteSignature',
    ],
  ])('%s fails the header check', (_what, headers, failure) => {
    const wire = { method: 'POST', rawPath: '/v1/encrypt', rawQuery: '', headers: { host: 'h', ...headers } };
    expect(checkSigV4Headers(wire, options())).toMatchObject({ ok: false, failure });
  });

  it('an unknown access key and a stale date fail the header check, whatever the body', async () => {
    const wire = toWire(
      (await signer().sign(request('/v1/encrypt', 'x'), { signingDate: NOW })) as HttpRequest,
      'x',
    );
    expect(checkSigV4Headers(wire, options({ secretFor: () => undefined }))).toMatchObject({
      ok: false,
      failure: 'UnknownAccessKey',
    });
    expect(checkSigV4Headers(wire, options({ now: new Date(NOW.getTime() + 301_000) }))).toMatchObject({
      ok: false,
      failure: 'ClockSkew',
    });
  });

  it('checkSigV4Payload refuses a result it did not make', async () => {
    const wire = toWire(
      (await signer().sign(request('/v1/encrypt', 'x'), { signingDate: NOW })) as HttpRequest,
      'x',
    );
    const forged = {
      ok: true as const,
      accessKeyId: 'AKIDEXAMPLE',
      presigned: false,
      sessionToken: undefined,
    };
    expect(() => checkSigV4Payload(wire, forged, options())).toThrow();
  });
});
