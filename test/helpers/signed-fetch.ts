import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { LocalPrincipal } from '../../src/local/identity.js';

export interface RawResponse {
  status: number;
  headers: Headers;
  json: unknown;
  text: string;
}

/**
 * Sends a raw KMS JSON 1.1 request, SigV4-signed as the principal, with any body and headers:
 * what the SDK would never send, for protocol and fuzz tests. `sendBody` sends other bytes than were signed.
 */
export async function kmsRaw(
  endpoint: string,
  principal: LocalPrincipal | undefined,
  target: string | undefined,
  body: string,
  extraHeaders: Record<string, string> = {},
  options: { signingDate?: Date; sendBody?: string } = {},
): Promise<RawResponse> {
  const url = new URL(endpoint);
  let headers: Record<string, string> = {
    host: url.host,
    'content-type': 'application/x-amz-json-1.1',
    ...(target !== undefined ? { 'x-amz-target': target } : {}),
    ...extraHeaders,
  };
  if (principal) {
    const signer = new SignatureV4({
      service: 'kms',
      region: 'us-east-1',
      credentials: { accessKeyId: principal.accessKeyId, secretAccessKey: principal.secretAccessKey },
      sha256: Hash.bind(null, 'sha256'),
    });
    const signed = await signer.sign(
      new HttpRequest({
        method: 'POST',
        protocol: url.protocol,
        hostname: url.hostname,
        port: Number(url.port),
        path: '/',
        headers,
        body,
      }),
      options.signingDate ? { signingDate: options.signingDate } : {},
    );
    headers = signed.headers as Record<string, string>;
  }
  const { host: _host, ...sendable } = headers;
  const res = await fetch(endpoint, { method: 'POST', headers: sendable, body: options.sendBody ?? body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}
