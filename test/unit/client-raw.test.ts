import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EaasClient, EaasError, InvalidRequestError } from '@eaas/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** The client's raw calls: what it refuses before sending, and how it reads a gateway's refusal. */

const credentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};
let server: Server;
let endpoint: string;
const seen: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    // As API Gateway refuses a bad signature: a body with only `message`, the type in a header.
    res.writeHead(403, {
      'content-type': 'application/json',
      'x-amzn-ErrorType':
        'InvalidSignatureException:http://internal.amazon.com/coral/com.amazon.coral.service/',
      'x-amzn-RequestId': 'req-123',
    });
    res.end(
      JSON.stringify({
        message: 'The request signature we calculated does not match the signature you provided.',
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('EaasClient.raw', () => {
  it('refuses a string body, which it would encode as JSON a second time, before sending anything', async () => {
    const client = new EaasClient({ endpoint, credentials });
    seen.length = 0;

    await expect(client.raw('POST', '/v1/encrypt', '{"keyId":"alias/x"}')).rejects.toThrow(
      InvalidRequestError,
    );
    expect(seen).toEqual([]);
  });

  it('refuses a byte body, which it would encode as a JSON object, before sending anything', async () => {
    const client = new EaasClient({ endpoint, credentials });
    seen.length = 0;

    for (const body of [Buffer.from('{}'), new Uint8Array(2), new ArrayBuffer(2)])
      await expect(client.raw('POST', '/v1/encrypt', body)).rejects.toThrow(InvalidRequestError);
    expect(seen).toEqual([]);
  });

  it("refuses a path that would leave the endpoint's origin or be normalised into another route", async () => {
    // Pasted after the origin, '1/v1/encrypt' would reach another port, '.evil.example/...' another host.
    const client = new EaasClient({ endpoint, credentials });
    seen.length = 0;

    for (const path of [
      '1/v1/encrypt',
      '.evil.example/v1/keys',
      '@evil.example/v1/keys',
      '',
      '/v1/keys/alias%2Fa/../../whoami',
      '/v1/keys/%2e%2E/whoami',
      '/v1/keys/./x',
      '/v1/objects/a?x=1',
      '/v1/objects/a#b',
      '/v1/objects/a\\..\\b',
      '/v1/objects/%E0%A4%A',
    ])
      for (const send of [
        (p: string) => client.rawBytes('GET', p),
        (p: string) => client.rawStream('GET', p),
      ])
        await expect(send(path), path).rejects.toThrow(InvalidRequestError);
    expect(seen).toEqual([]);

    // What the typed methods send is unchanged: a key id's slash percent-encoded in one segment.
    await client.request('GET', `/v1/keys/${encodeURIComponent('alias/a.b')}`).catch(() => undefined);
    expect(seen).toEqual(['GET /v1/keys/alias%2Fa.b']);
  });

  it('leaves an option given as undefined out of the query, never sending "undefined"', async () => {
    const client = new EaasClient({ endpoint, credentials });
    seen.length = 0;

    await client
      .importParameters('k1', { wrappingKeySpec: undefined, wrappingAlgorithm: 'RSAES_OAEP_SHA_256' })
      .catch(() => undefined);
    expect(seen).toEqual(['GET /v1/keys/k1/import-parameters?wrappingAlgorithm=RSAES_OAEP_SHA_256']);
  });

  it("reads a gateway refusal's code from x-amzn-ErrorType and its request id from the header", async () => {
    const client = new EaasClient({ endpoint, credentials });

    const error = await client.request('GET', '/v1/whoami').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(EaasError);
    expect(error).toMatchObject({
      code: 'InvalidSignatureException',
      status: 403,
      requestId: 'req-123',
      message: 'The request signature we calculated does not match the signature you provided.',
    });
  });
});
