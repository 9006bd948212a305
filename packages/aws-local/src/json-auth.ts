import type { IncomingMessage } from 'node:http';
import { type LocalIdentities, type LocalPrincipal, sessionExpired } from './identity.js';
import {
  checkSigV4Headers,
  SIGV4_ERROR_TYPES,
  type SignedRequest,
  type SigV4Headers,
  type VerifyOptions,
} from './sigv4.js';

/**
 * The first step of a request to an AWS JSON-protocol emulator (KMS, CloudWatch Logs): its SigV4
 * headers, checked before the body is read (a refused body is not read), and the local principal
 * they name. Failures throw `fail(type, message)` with the error type the service answers
 * (`SIGV4_ERROR_TYPES`, or `UnrecognizedClientException` for credentials no one has).
 */
export interface JsonAuthOptions {
  service: string;
  region: string;
  now: Date;
  maxSkewSeconds: number;
  identities: LocalIdentities;
  fail: (type: JsonAuthFailure, message: string) => Error;
}

/** The error types an authentication failure answers with. */
export type JsonAuthFailure =
  | (typeof SIGV4_ERROR_TYPES)[keyof typeof SIGV4_ERROR_TYPES]
  | 'UnrecognizedClientException'
  | 'ExpiredTokenException';

/**
 * What KMS and CloudWatch Logs answer to temporary credentials past their expiration:
 * `ExpiredTokenException`, "The security token included in the request is expired", one of the
 * errors common to all AWS APIs (https://docs.aws.amazon.com/awsconsolehelpdocs/latest/gsg/common-errors.html).
 * That page gives it HTTP 403; these JSON 1.1 services answer their authentication errors with 400
 * (as UnrecognizedClientException here), and so does this emulator: the SDKs go by `__type`.
 */
export const EXPIRED_TOKEN_MESSAGE = 'The security token included in the request is expired';

export interface JsonAuthenticated {
  signed: Omit<SignedRequest, 'bodySha256'>;
  verify: VerifyOptions;
  checked: SigV4Headers;
  principal: LocalPrincipal;
}

export function authenticateJsonRequest(req: IncomingMessage, options: JsonAuthOptions): JsonAuthenticated {
  const { identities } = options;
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const signed = {
    method: req.method ?? 'GET',
    rawPath: q < 0 ? url : url.slice(0, q),
    rawQuery: q < 0 ? '' : url.slice(q + 1),
    headers: req.headers,
  };
  const verify: VerifyOptions = {
    service: options.service,
    region: options.region,
    now: options.now,
    maxSkewSeconds: options.maxSkewSeconds,
    doubleEncodePath: true,
    requiredSignedHeaders: ['x-amz-target'],
    secretFor: (id) => identities.byAccessKeyId(id)?.secretAccessKey,
    sessionTokenValid: (id, token) => identities.sessionTokenValid(id, token),
  };
  const checked = checkSigV4Headers(signed, verify);
  if (!checked.ok) throw options.fail(SIGV4_ERROR_TYPES[checked.failure], checked.message);
  const principal = identities.authenticated(checked.accessKeyId, checked.sessionToken);
  if (!principal)
    throw options.fail(
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
    );
  if (sessionExpired(principal, options.now))
    throw options.fail('ExpiredTokenException', EXPIRED_TOKEN_MESSAGE);
  return { signed, verify, checked, principal };
}
