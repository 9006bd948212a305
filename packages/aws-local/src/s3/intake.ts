import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AwsChunkedDecoder } from './aws-chunked.js';
import { newChecksum, wellFormedChecksum } from './checksums.js';
import { S3Error } from './errors.js';
import { unlinkQuietly } from './files.js';
import type { StoredChecksum } from './object-record.js';
import type { PayloadPlan } from './payload.js';

/**
 * Receives a request body into a scratch file, streaming: decodes aws-chunked framing, hashes
 * (MD5 for the ETag, SHA-256 and the additional checksum when they are to be checked) and writes
 * as bytes arrive, so memory does not grow with the object. Only a body that arrived whole and
 * matched every digest is fsynced and handed back; otherwise the file is removed and the error
 * thrown. Nothing here is visible to readers: the caller commits the file or discards it.
 */

export interface ReceivedBody {
  path: string;
  size: number;
  md5: Buffer;
  checksum?: StoredChecksum | undefined;
}

/** The client went away before the body was complete: there is nobody to answer. */
export class ClientGoneError extends Error {
  constructor() {
    super('the client closed the connection before the body was complete');
    this.name = 'ClientGoneError';
  }
}

export async function receiveBody(
  req: IncomingMessage,
  plan: PayloadPlan,
  path: string,
): Promise<ReceivedBody> {
  const md5 = createHash('md5');
  const sha256 = plan.sha256 ? createHash('sha256') : undefined;
  const checksum = plan.checksum ? newChecksum(plan.checksum.algorithm) : undefined;
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      size += chunk.length;
      if (size > plan.length) {
        done(new S3Error('IncompleteBody', 'The request body is longer than its declared length.'));
        return;
      }
      md5.update(chunk);
      sha256?.update(chunk);
      checksum?.update(chunk);
      done(null, chunk);
    },
  });
  const decoder = plan.chunked ? new AwsChunkedDecoder({ signing: plan.chunked.signing }) : undefined;
  const first = decoder ?? meter;
  // The request is piped, not part of the pipeline: a refused body must not destroy the socket
  // before the error is answered. A client that goes away fails the pipeline instead.
  const onGone = () => {
    if (!req.complete) first.destroy(new ClientGoneError());
  };
  req.once('aborted', onGone);
  req.once('error', onGone);
  req.once('close', onGone);
  try {
    req.pipe(first);
    await pipeline([
      ...(decoder ? [decoder] : []),
      meter,
      createWriteStream(path, { flags: 'wx', mode: 0o600 }),
    ]);
    if (size !== plan.length) {
      throw new S3Error(
        'IncompleteBody',
        'You did not provide the number of bytes specified by the Content-Length HTTP header',
      );
    }
    const stored = verify(plan, md5.digest(), sha256?.digest('hex'), checksum?.digest(), decoder);
    const handle = await open(path, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    return { path, size, md5: stored.md5, checksum: stored.checksum };
  } catch (error) {
    unlinkQuietly(path);
    throw error;
  } finally {
    req.off('aborted', onGone);
    req.off('error', onGone);
    req.off('close', onGone);
    req.unpipe(first);
  }
}

function verify(
  plan: PayloadPlan,
  md5: Buffer,
  sha256: string | undefined,
  checksum: string | undefined,
  decoder: AwsChunkedDecoder | undefined,
): { md5: Buffer; checksum?: StoredChecksum } {
  // Precondition: the body is the one whose hash the signature covers.
  if (plan.sha256 !== undefined && sha256 !== plan.sha256) {
    throw new S3Error(
      'XAmzContentSHA256Mismatch',
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
      {
        ClientComputedContentSHA256: plan.sha256,
        S3ComputedContentSHA256: sha256 ?? '',
      },
    );
  }
  if (plan.md5 && !plan.md5.equals(md5)) {
    throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.', {
      ExpectedDigest: plan.md5.toString('hex'),
      CalculatedDigest: md5.toString('base64'),
    });
  }
  if (!plan.checksum || checksum === undefined) return { md5 };
  const { algorithm } = plan.checksum;
  let expected = plan.checksum.expected;
  if (plan.chunked?.trailer) {
    expected = decoder?.trailers.get(`x-amz-checksum-${algorithm}`);
    if (expected === undefined)
      throw new S3Error('MalformedTrailerError', `The request trailer has no x-amz-checksum-${algorithm}.`);
    if (!wellFormedChecksum(algorithm, expected))
      throw new S3Error(
        'InvalidRequest',
        `Value for x-amz-checksum-${algorithm} trailing header is invalid.`,
      );
  }
  if (expected !== undefined && expected !== checksum) {
    throw new S3Error(
      'BadDigest',
      `The ${algorithm.toUpperCase()} you specified did not match the calculated checksum.`,
    );
  }
  return { md5, checksum: { algorithm, value: checksum } };
}

/** A small body (an XML document), checked like any other, in memory; larger than `limit` is refused. */
export async function receiveSmallBody(
  req: IncomingMessage,
  plan: PayloadPlan,
  path: string,
  limit: number,
): Promise<Buffer> {
  if (plan.length > limit)
    throw new S3Error('MaxMessageLengthExceeded', 'Your request was too big.', {
      MaxMessageLengthBytes: String(limit),
    });
  const body = await receiveBody(req, plan, path);
  try {
    return await readFile(body.path);
  } finally {
    unlinkQuietly(body.path);
  }
}
