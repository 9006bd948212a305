import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * Verification of AWS Signature Version 4, header and query-string (presigned) forms,
 * for the local servers. Follows the published algorithm: canonical request, string to sign,
 * derived signing key; the signature is compared in constant time.
 */

export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
const ALGORITHM = 'AWS4-HMAC-SHA256';
const MAX_PRESIGN_SECONDS = 604_800;

export interface SignedRequest {
  method: string;
  /** Path exactly as it arrived, still percent-encoded, without the query. */
  rawPath: string;
  /** Query string as it arrived, without the leading `?`. */
  rawQuery: string;
  /** Node's lower-cased request headers. */
  headers: IncomingHttpHeaders;
  /**
   * SHA-256 hex of the body received (the KMS and the gateway buffer bodies); the empty body's
   * when absent. The local S3 streams bodies, so it passes the payload hash the request declares
   * (a hex hash, or a `STREAMING-*` payload type, as the signature covers it) and holds the body
   * to it as it arrives.
   */
  bodySha256?: string;
}

export interface VerifyOptions {
  service: string;
  region: string;
  now: Date;
  maxSkewSeconds: number;
  /** Secret key for an access key id, or undefined when the key is unknown. */
  secretFor(accessKeyId: string): string | undefined;
  /** Non-S3 services URI-encode the already-encoded path once more; S3 does not. */
  doubleEncodePath: boolean;
  /**
   * S3 only: the payload may be declared `UNSIGNED-PAYLOAD`. Everywhere else the signature must
   * cover the SHA-256 of the body actually received.
   */
  unsignedPayloadAllowed?: boolean;
  /** Headers that must be among the signed ones (e.g. `x-amz-target` for JSON protocols). */
  requiredSignedHeaders?: readonly string[];
  /** Whether a session token is valid for the access key; without it no session token is accepted. */
  sessionTokenValid?: (accessKeyId: string, token: string) => boolean;
}

export type SigV4Failure =
  | 'MissingAuthentication'
  | 'IncompleteSignature'
  | 'UnknownAccessKey'
  | 'SignatureMismatch'
  /** The credential scope names another region than the endpoint's. */
  | 'WrongRegion'
  | 'RequestExpired'
  | 'ClockSkew';

/** The error type AWS services answer for each failure (`__type` in JSON protocols, `x-amzn-ErrorType` at API Gateway). */
export const SIGV4_ERROR_TYPES = {
  MissingAuthentication: 'MissingAuthenticationTokenException',
  IncompleteSignature: 'IncompleteSignatureException',
  UnknownAccessKey: 'UnrecognizedClientException',
  SignatureMismatch: 'InvalidSignatureException',
  WrongRegion: 'InvalidSignatureException',
  RequestExpired: 'InvalidSignatureException',
  ClockSkew: 'InvalidSignatureException',
} as const satisfies Record<SigV4Failure, string>;

export type VerifyResult =
  | { ok: true; accessKeyId: string; presigned: boolean; sessionToken?: string }
  | { ok: false; failure: SigV4Failure; message: string };

interface Parts {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  terminator: string;
  signedHeaders: string[];
  signature: string;
  amzDate: string;
  expires?: number;
  presigned: boolean;
}

type Failed = Extract<VerifyResult, { ok: false }>;

function fail(failure: SigV4Failure, message: string): Failed {
  return { ok: false, failure, message };
}

/** RFC 3986 encoding as SigV4 requires. */
export function uriEscape(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, '%20'));
  } catch {
    return value;
  }
}

export function parseQuery(rawQuery: string): Array<[string, string]> {
  if (rawQuery === '') return [];
  return rawQuery
    .split('&')
    .filter((p) => p !== '')
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq < 0
        ? [safeDecode(pair), '']
        : [safeDecode(pair.slice(0, eq)), safeDecode(pair.slice(eq + 1))];
    });
}

function canonicalQuery(pairs: Array<[string, string]>): string {
  return pairs
    .map(([k, v]) => [uriEscape(k), uriEscape(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

function canonicalPath(rawPath: string, doubleEncode: boolean): string {
  if (!doubleEncode) return rawPath === '' ? '/' : rawPath;
  const segments: string[] = [];
  for (const segment of rawPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && rawPath.endsWith('/') ? '/' : '';
  const normalized = `/${segments.join('/')}${trailing}`;
  return uriEscape(normalized).replace(/%2F/g, '/');
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  if (!Object.hasOwn(headers, name)) return undefined;
  const value: unknown = headers[name];
  if (Array.isArray(value)) {
    if (!value.every((v) => typeof v === 'string')) return undefined;
  } else if (typeof value !== 'string') {
    return undefined;
  }
  const joined = Array.isArray(value) ? value.join(',') : value;
  return joined.trim().replace(/\s+/g, ' ');
}

function sha256Hex(data: string): string {
  return createHash('sha256').update(data, 'utf8').digest('hex');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** The SigV4 signing key for a secret and scope. */
export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
}

function parseCredential(
  credential: string,
): Omit<Parts, 'signedHeaders' | 'signature' | 'amzDate' | 'presigned'> | undefined {
  const pieces = credential.split('/');
  if (pieces.length !== 5) return undefined;
  const [accessKeyId, date, region, service, terminator] = pieces as [string, string, string, string, string];
  if (accessKeyId === '' || !/^\d{8}$/.test(date)) return undefined;
  return { accessKeyId, date, region, service, terminator };
}

function parseHeaderForm(authorization: string, headers: IncomingHttpHeaders): Parts | string {
  if (!authorization.startsWith(`${ALGORITHM} `)) {
    return `Unsupported authorization type; only ${ALGORITHM} is accepted`;
  }
  const fields = new Map<string, string>();
  for (const piece of authorization.slice(ALGORITHM.length + 1).split(',')) {
    const eq = piece.indexOf('=');
    if (eq > 0) fields.set(piece.slice(0, eq).trim(), piece.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!credential || !signedHeaders || !signature) {
    return "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters";
  }
  const scope = parseCredential(credential);
  if (!scope)
    return `Authorization header has a malformed Credential: ${credential.split('/').slice(1).join('/')}`;
  const amzDate = headerValue(headers, 'x-amz-date') ?? '';
  if (!/^\d{8}T\d{6}Z$/.test(amzDate))
    return "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header";
  return { ...scope, signedHeaders: signedHeaders.split(';'), signature, amzDate, presigned: false };
}

function parseQueryForm(query: Map<string, string>): Parts | string {
  if (query.get('X-Amz-Algorithm') !== ALGORITHM) return `X-Amz-Algorithm must be ${ALGORITHM}`;
  const credential = query.get('X-Amz-Credential');
  const signedHeaders = query.get('X-Amz-SignedHeaders');
  const signature = query.get('X-Amz-Signature');
  const amzDate = query.get('X-Amz-Date');
  const expires = query.get('X-Amz-Expires');
  if (!credential || !signedHeaders || !signature || !amzDate || !expires) {
    return 'Query-string authentication requires X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature';
  }
  const scope = parseCredential(credential);
  if (!scope) return 'X-Amz-Credential is malformed';
  if (!/^\d{8}T\d{6}Z$/.test(amzDate))
    return "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"";
  const seconds = Number(expires);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_PRESIGN_SECONDS) {
    return `X-Amz-Expires must be between 1 and ${MAX_PRESIGN_SECONDS} seconds`;
  }
  return {
    ...scope,
    signedHeaders: signedHeaders.split(';'),
    signature,
    amzDate,
    expires: seconds,
    presigned: true,
  };
}

function amzDateToMs(amzDate: string): number {
  const iso = `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`;
  return Date.parse(iso);
}

function equalHex(a: string, b: string): boolean {
  const ba = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}

/** What the headers of a request established, before its body: everything but the signature itself. */
export interface SigV4Headers {
  readonly ok: true;
  readonly accessKeyId: string;
  readonly presigned: boolean;
  readonly sessionToken: string | undefined;
}

/**
 * What checkSigV4Payload needs of the headers' check, kept out of the object the callers hold
 * (so that logging it can never show the signing key).
 */
interface HeaderState {
  parts: Parts;
  key: Buffer;
  canonicalHeaders: string;
  pairs: Array<[string, string]>;
}
const headerStates = new WeakMap<SigV4Headers, HeaderState>();

/**
 * The checks that need no body: the Authorization header (or presigned query) is present and
 * well-formed, scoped to this service and region, dated within the allowed skew (or not expired),
 * signs the headers it must, names a known access key, and carries a valid session token if any.
 * A server calls this before it reads a body, so a request that fails it is answered from its
 * headers alone; the signature is then checked over the body by checkSigV4Payload.
 */
export function checkSigV4Headers(
  request: Omit<SignedRequest, 'bodySha256'>,
  options: VerifyOptions,
): SigV4Headers | Failed {
  const pairs = parseQuery(request.rawQuery);
  const query = new Map(pairs);
  const authorization = headerValue(request.headers, 'authorization');
  let parts: Parts | string;
  if (authorization !== undefined && authorization !== '')
    parts = parseHeaderForm(authorization, request.headers);
  else if (query.has('X-Amz-Signature') || query.has('X-Amz-Algorithm')) parts = parseQueryForm(query);
  else return fail('MissingAuthentication', 'Missing Authentication Token');
  if (typeof parts === 'string') return fail('IncompleteSignature', parts);

  if (parts.terminator !== 'aws4_request')
    return fail('IncompleteSignature', "Credential should be scoped with a valid terminator: 'aws4_request'");
  if (parts.service !== options.service) {
    return fail('SignatureMismatch', `Credential should be scoped to correct service: '${options.service}'.`);
  }
  if (parts.region !== options.region) {
    // AWS's message names only the region given; the expected one saves a caller the guesswork.
    return fail(
      'WrongRegion',
      `Credential should be scoped to a valid region, not '${parts.region}'; this endpoint expects '${options.region}'.`,
    );
  }
  if (parts.amzDate.slice(0, 8) !== parts.date) {
    return fail(
      'SignatureMismatch',
      'Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP',
    );
  }
  if (!parts.signedHeaders.every((h) => /^[a-z0-9-]+$/.test(h))) {
    return fail(
      'IncompleteSignature',
      'SignedHeaders must be lower-case header names separated by semicolons',
    );
  }
  if (!parts.signedHeaders.includes('host'))
    return fail('SignatureMismatch', "'Host' must be a signed header");
  for (const required of options.requiredSignedHeaders ?? []) {
    if (!parts.signedHeaders.includes(required))
      return fail('SignatureMismatch', `'${required}' must be a signed header`);
  }

  const signedAt = amzDateToMs(parts.amzDate);
  const now = options.now.getTime();
  const skewMs = options.maxSkewSeconds * 1000;
  if (Number.isNaN(signedAt)) return fail('IncompleteSignature', 'X-Amz-Date is not a valid date');
  if (parts.presigned) {
    if (signedAt - now > skewMs) return fail('ClockSkew', 'Request is not yet valid');
    if (now > signedAt + (parts.expires ?? 0) * 1000) return fail('RequestExpired', 'Request has expired');
  } else if (Math.abs(now - signedAt) > skewMs) {
    const limit = new Date(now - skewMs).toISOString().replace(/[-:]|\.\d{3}/g, '');
    return fail(
      'ClockSkew',
      `Signature expired: ${parts.amzDate} is now earlier than ${limit} (${new Date(now).toISOString().replace(/[-:]|\.\d{3}/g, '')} - ${options.maxSkewSeconds / 60} min.)`,
    );
  }

  const secret = options.secretFor(parts.accessKeyId);
  if (secret === undefined)
    return fail('UnknownAccessKey', 'The security token included in the request is invalid.');

  const canonicalHeaders: string[] = [];
  for (const name of parts.signedHeaders) {
    const value = headerValue(request.headers, name);
    if (value === undefined)
      return fail('SignatureMismatch', `Signed header '${name}' is missing from the request`);
    canonicalHeaders.push(`${name}:${value}\n`);
  }
  const token = headerValue(request.headers, 'x-amz-security-token') ?? query.get('X-Amz-Security-Token');
  // Precondition: a session token is one this server issued for this access key; long-term keys carry none.
  if (token !== undefined && options.sessionTokenValid?.(parts.accessKeyId, token) !== true) {
    return fail('UnknownAccessKey', 'The security token included in the request is invalid.');
  }
  const checked: SigV4Headers = {
    ok: true,
    accessKeyId: parts.accessKeyId,
    presigned: parts.presigned,
    sessionToken: token,
  };
  headerStates.set(checked, {
    parts,
    key: signingKey(secret, parts.date, parts.region, parts.service),
    canonicalHeaders: canonicalHeaders.join(''),
    pairs,
  });
  return checked;
}

/**
 * The check that needs the body's hash: the signature over the canonical request, compared in
 * constant time. `checked` is what checkSigV4Headers answered for the same request.
 */
export function checkSigV4Payload(
  request: SignedRequest,
  checked: SigV4Headers,
  options: Pick<VerifyOptions, 'doubleEncodePath' | 'unsignedPayloadAllowed'>,
): VerifyResult {
  const state = headerStates.get(checked);
  if (!state) throw new Error('checkSigV4Payload needs the result of checkSigV4Headers');
  const { parts, key, pairs, canonicalHeaders } = state;
  const token = checked.sessionToken;
  const computed = request.bodySha256 ?? sha256Hex('');
  const declared = headerValue(request.headers, 'x-amz-content-sha256')?.toLowerCase();
  // Precondition: the signature covers the body received. Only S3 may declare an unsigned payload.
  const unsigned = options.unsignedPayloadAllowed === true && declared === UNSIGNED_PAYLOAD.toLowerCase();
  if (declared !== undefined && !unsigned && declared !== computed.toLowerCase()) {
    return fail(
      'SignatureMismatch',
      'The provided x-amz-content-sha256 header does not match what was computed.',
    );
  }
  const payloadCandidates = unsigned
    ? [UNSIGNED_PAYLOAD]
    : options.unsignedPayloadAllowed === true && parts.presigned && declared === undefined
      ? [UNSIGNED_PAYLOAD, computed]
      : [computed];

  const queryForSigning = parts.presigned ? pairs.filter(([k]) => k !== 'X-Amz-Signature') : pairs;
  const scope = `${parts.date}/${parts.region}/${parts.service}/aws4_request`;
  for (const payloadHash of payloadCandidates) {
    const canonicalRequest = [
      request.method.toUpperCase(),
      canonicalPath(request.rawPath, options.doubleEncodePath),
      canonicalQuery(queryForSigning),
      canonicalHeaders,
      parts.signedHeaders.join(';'),
      payloadHash,
    ].join('\n');
    const stringToSign = [ALGORITHM, parts.amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
    const expected = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
    if (equalHex(expected, parts.signature)) {
      return token === undefined
        ? { ok: true, accessKeyId: parts.accessKeyId, presigned: parts.presigned }
        : { ok: true, accessKeyId: parts.accessKeyId, presigned: parts.presigned, sessionToken: token };
    }
  }
  return fail(
    'SignatureMismatch',
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
  );
}

/** Verifies a request's SigV4 signature; the result names the failure as AWS would classify it. */
export function verifySigV4(request: SignedRequest, options: VerifyOptions): VerifyResult {
  const checked = checkSigV4Headers(request, options);
  return checked.ok ? checkSigV4Payload(request, checked, options) : checked;
}
