import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { LocalPrincipal } from '../../src/identity.js';

export interface RawResponse {
  status: number;
  headers: Headers;
  json: unknown;
  text: string;
}

export interface SignedFetch {
  endpoint: string;
  /** Unsigned when undefined. */
  principal: LocalPrincipal | undefined;
  service: 'kms' | 'execute-api';
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body: string;
  signingDate?: Date;
  /** Sends other bytes than were signed. */
  sendBody?: string;
}

/**
 * Sends a raw request, SigV4-signed as the principal, with any body and headers: what an SDK
 * would never send, for protocol and fuzz tests.
 */
export async function signedFetch(req: SignedFetch): Promise<RawResponse> {
  const url = new URL(req.endpoint);
  const method = req.method ?? 'POST';
  const path = req.path ?? '/';
  let headers: Record<string, string> = { host: url.host, ...req.headers };
  if (req.principal) {
    const signer = new SignatureV4({
      service: req.service,
      region: 'us-east-1',
      credentials: { accessKeyId: req.principal.accessKeyId, secretAccessKey: req.principal.secretAccessKey },
      sha256: Hash.bind(null, 'sha256'),
    });
    const signed = await signer.sign(
      new HttpRequest({
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        port: Number(url.port),
        path,
        headers,
        body: req.body,
      }),
      req.signingDate ? { signingDate: req.signingDate } : {},
    );
    headers = signed.headers as Record<string, string>;
  }
  const { host: _host, ...sendable } = headers;
  const res = await fetch(`${url.origin}${path}`, {
    method,
    headers: sendable,
    // fetch sends no body with GET or HEAD (the empty body is what was signed).
    body: method === 'GET' || method === 'HEAD' ? null : (req.sendBody ?? req.body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

/** A raw KMS JSON 1.1 request. */
export function kmsRaw(
  endpoint: string,
  principal: LocalPrincipal | undefined,
  target: string | undefined,
  body: string,
  extraHeaders: Record<string, string> = {},
  options: { signingDate?: Date; sendBody?: string } = {},
): Promise<RawResponse> {
  return signedFetch({
    endpoint,
    principal,
    service: 'kms',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      ...(target !== undefined ? { 'x-amz-target': target } : {}),
      ...extraHeaders,
    },
    body,
    ...options,
  });
}
