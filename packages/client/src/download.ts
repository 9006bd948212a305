import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { DocumentsApi } from './documents-api.js';
import { EaasError } from './errors.js';
import { GcmOpenError, openGcmStream } from './gcm-open.js';
import { s3Refusal } from './s3-put.js';

/**
 * Downloads of any size: the ciphertext from a presigned GET, decrypted here with the object's
 * content key into a sink that is trusted only once the tag has checked (the caller renames or
 * releases it then). Memory stays constant. Every decryption failure is `InvalidCiphertext`.
 */

export interface DownloadOptions {
  /** Told the stored bytes received so far, of `totalBytes` (ciphertext and tag). */
  onProgress?: (progress: { receivedBytes: number; totalBytes: number }) => void;
  signal?: AbortSignal;
}

export interface Downloaded {
  key: string;
  size: number;
  etag: string;
  contentType?: string | undefined;
}

type Docs = { documents: DocumentsApi };

/**
 * Decrypts a document into `sink`; resolves only once the whole body has authenticated. What the
 * sink got before a rejection is unauthenticated: the caller throws it away.
 */
export async function decryptInto(
  client: Docs,
  key: string,
  sink: Writable,
  options: DownloadOptions = {},
): Promise<Downloaded> {
  const ticket = await client.documents.createDownload(key);
  const contentKey = Buffer.from(ticket.cipher.key, 'base64');
  try {
    const res = await fetch(ticket.url, options.signal ? { signal: options.signal } : {});
    if (!res.ok || !res.body) throw s3Refusal(res.status, await res.text().catch(() => ''), 'The download');
    if (res.headers.get('etag') !== ticket.etag)
      throw new EaasError(
        'PreconditionFailed',
        'The document changed during the download; try again.',
        412,
        undefined,
      );
    const decipher = openGcmStream({
      key: contentKey,
      iv: Buffer.from(ticket.cipher.iv, 'base64'),
      aad: Buffer.from(ticket.cipher.aad, 'base64'),
    });
    contentKey.fill(0);
    let received = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        received += chunk.length;
        options.onProgress?.({ receivedBytes: received, totalBytes: ticket.storedSize });
        done(null, chunk);
      },
    });
    await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), counter, decipher, sink);
    return { key: ticket.key, size: ticket.size, etag: ticket.etag, contentType: ticket.contentType };
  } catch (error) {
    if (error instanceof GcmOpenError)
      throw new EaasError('InvalidCiphertext', 'The document could not be decrypted.', 400, undefined);
    throw error;
  } finally {
    contentKey.fill(0);
  }
}

/**
 * Downloads and decrypts a document of any size into `destination`. The plaintext goes to a
 * temporary file (mode 0600) beside it, renamed into place only once the tag has checked; on any
 * failure it is removed and nothing is left at `destination`.
 */
export async function downloadDocument(
  client: Docs,
  key: string,
  destination: string,
  options: DownloadOptions = {},
): Promise<Downloaded> {
  const temporary = join(
    dirname(destination),
    `.${basename(destination)}.${randomBytes(6).toString('hex')}.partial`,
  );
  try {
    const out = await decryptInto(
      client,
      key,
      createWriteStream(temporary, { mode: 0o600, flags: 'wx' }),
      options,
    );
    await rename(temporary, destination);
    return out;
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}
