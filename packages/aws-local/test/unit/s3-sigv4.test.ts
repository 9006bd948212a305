import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { type VerifyOptions, verifySigV4 } from '../../src/sigv4.js';

/** verifySigV4 as the local S3 uses it: streamed bodies, so the declared payload hash stands in for the body's. */

const credentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};
const NOW = new Date('2026-11-28T12:00:00Z');
const options: VerifyOptions = {
  service: 's3',
  region: 'us-east-1',
  now: NOW,
  maxSkewSeconds: 300,
  doubleEncodePath: false,
  unsignedPayloadAllowed: true,
  secretFor: (id) => (id === credentials.accessKeyId ? credentials.secretAccessKey : undefined),
};
const signer = new SignatureV4({
  service: 's3',
  region: 'us-east-1',
  credentials,
  sha256: Hash.bind(null, 'sha256'),
  uriEscapePath: false,
});

async function signed(payload: string) {
  const req = new HttpRequest({
    method: 'PUT',
    hostname: '127.0.0.1',
    port: 4569,
    path: '/eaas-vault/a%20b',
    headers: { host: '127.0.0.1:4569', 'x-amz-content-sha256': payload },
  });
  const out = (await signer.sign(req, { signingDate: NOW })) as HttpRequest;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(out.headers)) headers[k.toLowerCase()] = v;
  return { method: 'PUT', rawPath: out.path, rawQuery: '', headers };
}

describe('verifySigV4 for S3 streaming payloads', () => {
  it.each(['STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'a'.repeat(64)])(
    'accepts the declared payload %s as the payload hash it signed',
    async (payload) => {
      const wire = await signed(payload);
      expect(verifySigV4({ ...wire, bodySha256: payload }, options)).toMatchObject({ ok: true });
    },
  );

  it('refuses a declared payload hash other than the one passed (the body is then checked against it)', async () => {
    const wire = await signed('a'.repeat(64));
    expect(verifySigV4({ ...wire, bodySha256: 'b'.repeat(64) }, options)).toMatchObject({
      failure: 'SignatureMismatch',
    });
    const streaming = await signed('STREAMING-AWS4-HMAC-SHA256-PAYLOAD');
    expect(
      verifySigV4({ ...streaming, bodySha256: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' }, options),
    ).toMatchObject({
      ok: false,
    });
  });

  it('enforces X-Amz-Expires on a presigned S3 URL', async () => {
    const req = new HttpRequest({
      method: 'GET',
      hostname: '127.0.0.1',
      port: 4569,
      path: '/eaas-vault/key',
      headers: { host: '127.0.0.1:4569' },
    });
    const presigned = (await signer.presign(req, { signingDate: NOW, expiresIn: 900 })) as HttpRequest;
    const rawQuery = new URLSearchParams(presigned.query as Record<string, string>).toString();
    const wire = { method: 'GET', rawPath: presigned.path, rawQuery, headers: { host: '127.0.0.1:4569' } };
    expect(verifySigV4(wire, { ...options, now: new Date(NOW.getTime() + 900_000) })).toMatchObject({
      ok: true,
    });
    expect(verifySigV4(wire, { ...options, now: new Date(NOW.getTime() + 901_000) })).toMatchObject({
      failure: 'RequestExpired',
    });
  });
});
