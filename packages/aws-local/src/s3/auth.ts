import type { IncomingMessage } from 'node:http';
import { type LocalIdentities, type LocalPrincipal, sessionExpired } from '../identity.js';
import { parseQuery, signingKey, UNSIGNED_PAYLOAD, verifySigV4 } from '../sigv4.js';
import type { ChunkSigning } from './aws-chunked.js';
import { S3Error } from './errors.js';
import { header, STREAMING } from './payload.js';

/**
 * SigV4 for S3, in the Authorization header or a presigned query string (whose expiry
 * verifySigV4 enforces). The body is streamed, so the signature is checked against the payload
 * hash the request declares (`x-amz-content-sha256`: a hex SHA-256, `UNSIGNED-PAYLOAD` or a
 * `STREAMING-*` type), and the intake then holds the body to that declaration before anything
 * is committed. Failures carry S3's codes, not the JSON protocols' ones.
 */

export interface S3Caller {
  principal: LocalPrincipal;
  presigned: boolean;
  /** The validated `x-amz-content-sha256`; a presigned URL usually has none (its payload is unsigned). */
  contentSha256: string | undefined;
  /** For signed streaming: what the chunk signatures chain from. */
  chunkSigning?: ChunkSigning | undefined;
}

export interface AuthOptions {
  identities: LocalIdentities;
  region: string;
  now: Date;
  maxSkewSeconds: number;
}

const KNOWN_PAYLOADS = new Set<string>([UNSIGNED_PAYLOAD, ...Object.values(STREAMING)]);

function credentialOf(req: IncomingMessage, query: Map<string, string>): string[] {
  const authorization = header(req.headers, 'authorization') ?? '';
  const credential = /Credential=([^,\s]+)/.exec(authorization)?.[1] ?? query.get('X-Amz-Credential') ?? '';
  return credential.split('/');
}

/** Precondition: the request is signed by a local principal, over the payload it declares. */
export function authenticate(
  req: IncomingMessage,
  rawPath: string,
  rawQuery: string,
  options: AuthOptions,
): S3Caller {
  const query = new Map(parseQuery(rawQuery));
  const headerAuth = header(req.headers, 'authorization') !== undefined;
  const declared = header(req.headers, 'x-amz-content-sha256')?.trim();
  if (headerAuth && declared === undefined)
    throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  if (declared !== undefined && !KNOWN_PAYLOADS.has(declared) && !/^[0-9a-fA-F]{64}$/.test(declared)) {
    throw new S3Error(
      'InvalidArgument',
      'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER], or a valid sha256 value.',
      { ArgumentName: 'x-amz-content-sha256', ArgumentValue: declared },
    );
  }
  const { identities } = options;
  const result = verifySigV4(
    {
      method: req.method ?? 'GET',
      rawPath,
      rawQuery,
      headers: req.headers,
      // The declared payload hash stands in for the body's until the intake checks it.
      ...(declared !== undefined && declared !== UNSIGNED_PAYLOAD ? { bodySha256: declared } : {}),
    },
    {
      service: 's3',
      region: options.region,
      now: options.now,
      maxSkewSeconds: options.maxSkewSeconds,
      doubleEncodePath: false,
      unsignedPayloadAllowed: true,
      secretFor: (id) => identities.byAccessKeyId(id)?.secretAccessKey,
      sessionTokenValid: (id, token) => identities.sessionTokenValid(id, token),
    },
  );
  if (!result.ok) {
    const presigned = !headerAuth;
    switch (result.failure) {
      case 'MissingAuthentication':
        throw new S3Error('AccessDenied', 'Access Denied');
      case 'IncompleteSignature':
        throw new S3Error(
          presigned ? 'AuthorizationQueryParametersError' : 'AuthorizationHeaderMalformed',
          result.message,
        );
      case 'UnknownAccessKey': {
        const accessKeyId = credentialOf(req, query)[0] ?? '';
        if (identities.byAccessKeyId(accessKeyId))
          throw new S3Error('InvalidToken', 'The provided token is malformed or otherwise invalid.');
        throw new S3Error(
          'InvalidAccessKeyId',
          'The AWS Access Key Id you provided does not exist in our records.',
          {
            AWSAccessKeyId: accessKeyId,
          },
        );
      }
      case 'RequestExpired':
        throw new S3Error('AccessDenied', 'Request has expired');
      case 'ClockSkew':
        if (presigned) throw new S3Error('AccessDenied', 'Request is not valid yet');
        throw new S3Error(
          'RequestTimeTooSkewed',
          'The difference between the request time and the current time is too large.',
          {
            RequestTime: header(req.headers, 'x-amz-date') ?? '',
            ServerTime: options.now.toISOString(),
            MaxAllowedSkewMilliseconds: String(options.maxSkewSeconds * 1000),
          },
        );
      case 'SignatureMismatch':
        throw new S3Error('SignatureDoesNotMatch', result.message);
      case 'WrongRegion': {
        // S3 names both regions, and the expected one again in a Region element.
        const given = credentialOf(req, query)[2] ?? '';
        throw presigned
          ? new S3Error(
              'AuthorizationQueryParametersError',
              `Error parsing the X-Amz-Credential parameter; the region '${given}' is wrong; expecting '${options.region}'`,
              { Region: options.region },
            )
          : new S3Error(
              'AuthorizationHeaderMalformed',
              `The authorization header is malformed; the region '${given}' is wrong; expecting '${options.region}'`,
              { Region: options.region },
            );
      }
    }
  }
  const principal = identities.authenticated(result.accessKeyId, result.sessionToken);
  if (!principal) throw new S3Error('InvalidToken', 'The provided token is malformed or otherwise invalid.');
  // S3's answer to temporary credentials past their expiration: 400 ExpiredToken, "The provided
  // token has expired." (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html,
  // "ExpiredToken"; S3's answer as seen in https://github.com/craftcms/aws-s3/issues/182 and
  // https://github.com/boto/boto/issues/898). S3 also echoes the token in a Token-0 element; a session token is a
  // credential, so it is left out here.
  if (sessionExpired(principal, options.now))
    throw new S3Error('ExpiredToken', 'The provided token has expired.');
  let chunkSigning: ChunkSigning | undefined;
  if (declared === STREAMING.signed || declared === STREAMING.signedTrailer) {
    const [, date = '', region = '', service = ''] = credentialOf(req, query);
    chunkSigning = {
      key: signingKey(principal.secretAccessKey, date, region, service),
      amzDate: header(req.headers, 'x-amz-date') ?? '',
      scope: `${date}/${region}/${service}/aws4_request`,
      seedSignature: /Signature=([0-9a-f]{64})/.exec(header(req.headers, 'authorization') ?? '')?.[1] ?? '',
    };
  }
  return { principal, presigned: result.presigned, contentSha256: declared, chunkSigning };
}
