import type { IncomingHttpHeaders } from 'node:http';
import type { ChunkSigning } from './aws-chunked.js';
import { type ChecksumAlgorithm, isChecksumAlgorithm, wellFormedChecksum } from './checksums.js';
import { S3Error } from './errors.js';

/**
 * How a request's body is to be received, read from its headers before any byte of it: framing
 * (plain or aws-chunked), the length it must have, and what it must hash to. Everything a client
 * can get wrong here is refused before the body is read (and, with `Expect: 100-continue`, before
 * the client sends it).
 */

/** S3's largest single PUT. */
export const MAX_PUT_BYTES = 5 * 1024 ** 3;

export interface PayloadPlan {
  /** aws-chunked framing: the chunk signing (signed streaming) and whether a trailer must come. */
  chunked?: { signing?: ChunkSigning | undefined; trailer: boolean } | undefined;
  /** Decoded length the body must have. */
  length: number;
  /** Hex SHA-256 declared in `x-amz-content-sha256`, to be matched. */
  sha256?: string | undefined;
  /** MD5 from `Content-MD5`, to be matched. */
  md5?: Buffer | undefined;
  /** The additional checksum: computed always, checked against `expected` or the trailer's value. */
  checksum?: { algorithm: ChecksumAlgorithm; expected?: string | undefined } | undefined;
}

export const STREAMING = {
  unsignedTrailer: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
  signed: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
  signedTrailer: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
} as const;

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function declaredLength(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d{1,15}$/.test(raw.trim()))
    throw new S3Error('InvalidArgument', `${name} must be a whole number of bytes.`);
  return Number(raw.trim());
}

/** Headers that start like a checksum but say something else. */
const NOT_CHECKSUMS = new Set(['x-amz-checksum-mode', 'x-amz-checksum-algorithm', 'x-amz-checksum-type']);

function checksumOf(headers: IncomingHttpHeaders, trailer: string | undefined): PayloadPlan['checksum'] {
  const given = Object.keys(headers).filter((h) => h.startsWith('x-amz-checksum-') && !NOT_CHECKSUMS.has(h));
  if (given.length > 1 || (given.length === 1 && trailer !== undefined))
    throw new S3Error(
      'InvalidRequest',
      'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.',
    );
  const name = trailer ?? given[0];
  if (name === undefined) {
    const declared = header(headers, 'x-amz-sdk-checksum-algorithm')?.toLowerCase();
    if (declared === undefined) return undefined;
    if (!isChecksumAlgorithm(declared))
      throw new S3Error('InvalidRequest', `Checksum algorithm ${declared} is not supported.`);
    return { algorithm: declared };
  }
  const algorithm = name.slice('x-amz-checksum-'.length);
  if (!name.startsWith('x-amz-checksum-') || !isChecksumAlgorithm(algorithm))
    throw new S3Error('InvalidRequest', `The checksum ${name} is not supported.`);
  if (trailer !== undefined) return { algorithm };
  const value = header(headers, name) ?? '';
  if (!wellFormedChecksum(algorithm, value))
    throw new S3Error('InvalidRequest', `Value for ${name} header is invalid.`);
  return { algorithm, expected: value };
}

/**
 * The plan for a body. `declared` is the validated `x-amz-content-sha256` (undefined for a
 * presigned URL, which never signs its payload); `signing` is present when it is signed streaming.
 */
export function planPayload(
  headers: IncomingHttpHeaders,
  declared: string | undefined,
  signing: ChunkSigning | undefined,
): PayloadPlan {
  const contentLength = declaredLength(header(headers, 'content-length'), 'Content-Length');
  const encoding = (header(headers, 'content-encoding') ?? '').toLowerCase();
  const streaming = declared?.startsWith('STREAMING-') === true;
  let length: number | undefined;
  let chunked: PayloadPlan['chunked'];
  let trailer: string | undefined;
  if (streaming) {
    length = declaredLength(header(headers, 'x-amz-decoded-content-length'), 'x-amz-decoded-content-length');
    if (length === undefined)
      throw new S3Error(
        'MissingContentLength',
        'You must provide the x-amz-decoded-content-length header with aws-chunked.',
      );
    const withTrailer = declared === STREAMING.unsignedTrailer || declared === STREAMING.signedTrailer;
    trailer = header(headers, 'x-amz-trailer')?.trim().toLowerCase();
    if (withTrailer !== (trailer !== undefined))
      throw new S3Error(
        'InvalidRequest',
        `x-amz-trailer is ${withTrailer ? 'required' : 'not allowed'} with ${declared}.`,
      );
    chunked = { signing, trailer: withTrailer };
  } else {
    if (encoding.split(',').some((e) => e.trim() === 'aws-chunked'))
      throw new S3Error('InvalidArgument', 'aws-chunked bodies need an x-amz-content-sha256 of STREAMING-*.');
    length = contentLength;
    if (length === undefined)
      throw new S3Error('MissingContentLength', 'You must provide the Content-Length HTTP header.');
  }
  if (length > MAX_PUT_BYTES) {
    throw new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', {
      ProposedSize: String(length),
      MaxSizeAllowed: String(MAX_PUT_BYTES),
    });
  }
  const md5Header = header(headers, 'content-md5');
  let md5: Buffer | undefined;
  if (md5Header !== undefined) {
    md5 = Buffer.from(md5Header.trim(), 'base64');
    if (md5.length !== 16 || !/^[A-Za-z0-9+/]+={0,2}$/.test(md5Header.trim()))
      throw new S3Error('InvalidDigest', 'The Content-MD5 you specified was invalid.', {
        'Content-MD5': md5Header,
      });
  }
  return {
    chunked,
    length,
    sha256: declared !== undefined && /^[0-9a-f]{64}$/i.test(declared) ? declared.toLowerCase() : undefined,
    md5,
    checksum: checksumOf(headers, trailer),
  };
}

/** `Content-Encoding` as stored: the value without the transfer-only `aws-chunked`. */
export function storedContentEncoding(headers: IncomingHttpHeaders): string | undefined {
  const kept = (header(headers, 'content-encoding') ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '' && e.toLowerCase() !== 'aws-chunked');
  return kept.length > 0 ? kept.join(',') : undefined;
}
