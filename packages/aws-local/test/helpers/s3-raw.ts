import { createHash, createHmac } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { LocalPrincipal } from '../../src/identity.js';

/**
 * Raw S3 requests, SigV4-signed (service `s3`, path not re-encoded) as a principal, with any
 * headers, body and declared payload hash: what the SDK would never send, for protocol tests.
 */

export interface RawS3Request {
  endpoint: string;
  principal?: LocalPrincipal | undefined;
  method: string;
  /** Path as sent, already percent-encoded. */
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** `x-amz-content-sha256` to sign; the body's SHA-256 when absent; null to send none. */
  payloadHash?: string | null;
  signingDate?: Date;
  /** Send `Expect: 100-continue` and the body only if the server asks for it. */
  expectContinue?: boolean;
}

export interface RawS3Response {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The `<Code>` of an S3 XML error, if the body is one. */
  code: string | undefined;
}

export const sha256Hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** Signs a request; answers the headers to send (with `authorization`) and the query string. */
export async function signS3(req: RawS3Request): Promise<{ headers: Record<string, string>; query: string }> {
  const url = new URL(req.endpoint);
  const body = req.body ?? '';
  const headers: Record<string, string> = {
    host: url.host,
    ...(req.payloadHash === null ? {} : { 'x-amz-content-sha256': req.payloadHash ?? sha256Hex(body) }),
    ...req.headers,
  };
  const query = new URLSearchParams(req.query ?? {}).toString().replace(/\+/g, '%20');
  if (!req.principal) return { headers, query };
  const signer = new SignatureV4({
    service: 's3',
    region: 'us-east-1',
    credentials: {
      accessKeyId: req.principal.accessKeyId,
      secretAccessKey: req.principal.secretAccessKey,
      ...(req.principal.sessionToken ? { sessionToken: req.principal.sessionToken } : {}),
    },
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: false,
    applyChecksum: false,
  });
  const signed = await signer.sign(
    new HttpRequest({
      method: req.method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: req.path,
      query: req.query ?? {},
      headers,
    }),
    req.signingDate ? { signingDate: req.signingDate } : {},
  );
  return { headers: signed.headers as Record<string, string>, query };
}

/** Sends a raw request over node:http (which, unlike fetch, sends any header and any body framing). */
export async function rawS3(req: RawS3Request): Promise<RawS3Response> {
  const { headers, query } = await signS3(req);
  const url = new URL(req.endpoint);
  const body = typeof req.body === 'string' ? Buffer.from(req.body) : (req.body ?? Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const out = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: req.method,
        path: query ? `${req.path}?${query}` : req.path,
        headers: {
          ...(headers['transfer-encoding'] ? {} : { 'content-length': String(body.length) }),
          ...headers,
          ...(req.expectContinue ? { expect: '100-continue' } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            code: /<Code>([^<]*)<\/Code>/.exec(text)?.[1],
          });
        });
      },
    );
    out.on('error', reject);
    if (req.expectContinue) out.on('continue', () => out.end(body));
    else out.end(body);
  });
}

/** The SigV4 signing key, computed here independently of the server's code. */
export function testSigningKey(secret: string, date: string): Buffer {
  const h = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
  return h(h(h(h(`AWS4${secret}`, date), 'us-east-1'), 's3'), 'aws4_request');
}

/**
 * An aws-chunked body for `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`, each chunk signed in a chain from
 * the request's seed signature; `tamper` changes one byte after signing.
 */
export function signedChunkedBody(
  chunks: readonly Buffer[],
  signed: Record<string, string>,
  secret: string,
  tamper = false,
): Buffer {
  const authorization = signed.authorization ?? '';
  const seed = /Signature=([0-9a-f]{64})/.exec(authorization)?.[1] ?? '';
  const amzDate = signed['x-amz-date'] ?? '';
  const date = amzDate.slice(0, 8);
  const key = testSigningKey(secret, date);
  const scope = `${date}/us-east-1/s3/aws4_request`;
  let previous = seed;
  const parts: Buffer[] = [];
  for (const data of [...chunks, Buffer.alloc(0)]) {
    const stringToSign = [
      'AWS4-HMAC-SHA256-PAYLOAD',
      amzDate,
      scope,
      previous,
      sha256Hex(''),
      sha256Hex(data),
    ].join('\n');
    previous = createHmac('sha256', key).update(stringToSign).digest('hex');
    const sent = tamper && data.length > 0 ? Buffer.from(data.map((b, i) => (i === 0 ? b ^ 1 : b))) : data;
    parts.push(
      Buffer.from(`${data.length.toString(16)};chunk-signature=${previous}\r\n`),
      sent,
      Buffer.from('\r\n'),
    );
  }
  return Buffer.concat(parts);
}
