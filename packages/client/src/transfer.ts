import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rename, stat, unlink } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { EaasClient } from './eaas-client.js';
import { EaasError, ok } from './errors.js';
import { GcmOpenError, openGcmStream } from './gcm-open.js';
import type { Context } from './types.js';

/**
 * Documents of any size through the API: uploads go straight to the presigned staging URLs and
 * are followed until sealed; downloads fetch the ciphertext from a presigned URL and decrypt it
 * here with the object's content key, into a temporary file that becomes the destination only
 * once the tag has checked. Memory stays bounded by the part size times the parts in flight.
 */

export interface UploadInput {
  key: string;
  keyId: string;
  /** A file to upload, or the bytes themselves. */
  file?: string;
  bytes?: Uint8Array;
  context?: Context;
  contentType?: string;
  overwrite?: boolean;
}

export interface UploadProgress {
  sentBytes: number;
  totalBytes: number;
}

export interface UploadOptions {
  /** Parts sent at once (default 4). */
  concurrency?: number;
  /** Tries per part or PUT before the upload is given up (default 3). */
  attempts?: number;
  onProgress?: (progress: UploadProgress) => void;
  /** How long to wait for the seal, in milliseconds (default 15 minutes). */
  sealTimeoutMs?: number;
  /** Whether to wait for the seal at all (default true). */
  waitForSeal?: boolean;
}

export interface UploadStatus {
  id: string;
  key: string;
  keyId: string;
  state: 'pending' | 'sealed' | 'failed';
  size: number;
  createdAt: string;
  expiresAt: string;
  sealedAt?: string;
  object?: { etag: string; format: 's3ec-v2' | 's3ec-v3' };
  error?: { code: string; message: string };
}

interface CreatedUpload extends UploadStatus {
  method: 'PUT' | 'multipart';
  url?: string;
  headers?: Record<string, string>;
  partSize?: number;
  parts?: { partNumber: number; url: string; size: number }[];
}

/** A failed download answer as the client's error. */
async function s3Failure(res: Response, what: string): Promise<EaasError> {
  return s3Refusal(res.status, await res.text().catch(() => ''), what);
}

/** Reads `size` bytes at `offset` of the file (into `into`, reused between parts) or of the bytes. */
async function readRange(
  file: string | undefined,
  bytes: Uint8Array | undefined,
  offset: number,
  size: number,
  into?: Buffer,
): Promise<Buffer> {
  if (bytes) return Buffer.from(bytes.buffer, bytes.byteOffset + offset, size);
  const handle = await open(file as string, 'r');
  try {
    const buffer = into && into.length >= size ? into.subarray(0, size) : Buffer.allocUnsafe(size);
    let read = 0;
    while (read < size) {
      const { bytesRead } = await handle.read(buffer, read, size - read, offset + read);
      if (bytesRead === 0) throw new Error(`${file} is shorter than announced`);
      read += bytesRead;
    }
    return buffer;
  } finally {
    await handle.close();
  }
}

interface PutAnswer {
  status: number;
  etag: string;
  text: string;
}

/**
 * One PUT of bytes already in memory, with node:http(s): fetch would copy the body once more
 * (memory is then two copies per part in flight).
 */
function putBytes(url: string, body: Buffer, headers: Record<string, string>): Promise<PutAnswer> {
  const target = new URL(url);
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      { method: 'PUT', headers: { ...headers, 'content-length': String(body.length) }, timeout: 120_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            etag: String(res.headers.etag ?? ''),
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('The PUT timed out.')));
    req.on('error', reject);
    req.end(body);
  });
}

/** S3's error code from an XML error answer, for a clear message. */
function s3Refusal(status: number, text: string, what: string): EaasError {
  const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? `Http${status}`;
  const message = /<Message>([^<]+)<\/Message>/.exec(text)?.[1] ?? '';
  return new EaasError(
    /expired/i.test(message) ? 'UploadExpired' : code,
    `${what} was refused by S3: ${code}${message ? ` (${message})` : ''}.`,
    status,
    undefined,
  );
}

async function putWithRetry(
  url: string,
  body: Buffer,
  headers: Record<string, string>,
  attempts: number,
  what: string,
) {
  let last: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const res = await putBytes(url, body, headers);
      if (res.status >= 200 && res.status < 300) return res.etag;
      const failure = s3Refusal(res.status, res.text, what);
      // 4xx other than throttling will not change on a retry (expired link, wrong size, no access).
      if (res.status < 500 && res.status !== 429) throw failure;
      last = failure;
    } catch (error) {
      if (error instanceof EaasError && error.status < 500 && error.status !== 429) throw error;
      last = error;
    }
    await new Promise((r) => setTimeout(r, 200 * 2 ** attempt * Math.random()));
  }
  throw last;
}

/** Follows an upload until it is sealed or failed; a failure is thrown with its code. */
export async function waitForSeal(
  client: EaasClient,
  id: string,
  timeoutMs = 15 * 60_000,
): Promise<UploadStatus> {
  const deadline = Date.now() + timeoutMs;
  let delay = 50;
  for (;;) {
    const status = ok<UploadStatus>(await client.raw('GET', `/v1/uploads/${id}`));
    if (status.state === 'sealed') return status;
    if (status.state === 'failed')
      throw new EaasError(
        status.error?.code ?? 'SealFailed',
        status.error?.message ?? 'The upload failed.',
        409,
        undefined,
      );
    if (Date.now() > deadline)
      throw new EaasError('Timeout', `Upload ${id} was not sealed in time.`, 408, undefined);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 1000);
  }
}

/** Uploads a document of any size and, by default, waits until it is sealed into the vault. */
export async function uploadDocument(
  client: EaasClient,
  input: UploadInput,
  options: UploadOptions = {},
): Promise<UploadStatus> {
  if ((input.file === undefined) === (input.bytes === undefined))
    throw new TypeError('Give either file or bytes.');
  const size = input.bytes ? input.bytes.byteLength : (await stat(input.file as string)).size;
  const created = ok<CreatedUpload>(
    await client.raw('POST', '/v1/uploads', {
      key: input.key,
      keyId: input.keyId,
      size,
      ...(input.context ? { context: input.context } : {}),
      ...(input.contentType ? { contentType: input.contentType } : {}),
      ...(input.overwrite !== undefined ? { overwrite: input.overwrite } : {}),
    }),
  );
  const attempts = options.attempts ?? 3;
  let sent = 0;
  const progress = (n: number) => {
    sent += n;
    options.onProgress?.({ sentBytes: sent, totalBytes: size });
  };
  try {
    if (created.method === 'PUT') {
      const body = await readRange(input.file, input.bytes, 0, size);
      await putWithRetry(created.url as string, body, created.headers ?? {}, attempts, 'The upload');
      progress(size);
    } else {
      const parts = created.parts ?? [];
      const partSize = created.partSize ?? 0;
      const etags: { partNumber: number; etag: string }[] = [];
      let next = 0;
      const worker = async () => {
        // One buffer per worker, reused for each of its parts: memory is the parts in flight.
        const buffer = input.file === undefined ? undefined : Buffer.allocUnsafe(partSize);
        while (next < parts.length) {
          const part = parts[next++];
          if (!part) break;
          const body = await readRange(
            input.file,
            input.bytes,
            (part.partNumber - 1) * partSize,
            part.size,
            buffer,
          );
          const etag = await putWithRetry(part.url, body, {}, attempts, `Part ${part.partNumber}`);
          etags.push({ partNumber: part.partNumber, etag });
          progress(part.size);
        }
      };
      await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 4, parts.length) }, worker));
      ok(await client.raw('POST', `/v1/uploads/${created.id}/complete`, { parts: etags }));
    }
  } catch (error) {
    await client.raw('DELETE', `/v1/uploads/${created.id}`).catch(() => undefined);
    throw error;
  }
  if (options.waitForSeal === false) return created;
  return waitForSeal(client, created.id, options.sealTimeoutMs);
}

interface DownloadTicket {
  key: string;
  url: string;
  etag: string;
  size: number;
  storedSize: number;
  contentType?: string;
  context: Context;
  cipher: { algorithm: 'AES-256-GCM'; key: string; iv: string; aad: string; tagLength: number };
}

/**
 * Downloads and decrypts a document of any size into `destination`. The plaintext goes to a
 * temporary file (mode 0600) beside it, renamed into place only once the whole body has
 * authenticated; on any failure it is removed and nothing is left at `destination`. Every
 * decryption failure is the one `InvalidCiphertext` error.
 */
export async function downloadDocument(
  client: EaasClient,
  key: string,
  destination: string,
): Promise<{ key: string; size: number; etag: string; contentType?: string | undefined }> {
  const ticket = ok<DownloadTicket>(await client.raw('POST', '/v1/downloads', { key }));
  const contentKey = Buffer.from(ticket.cipher.key, 'base64');
  const temporary = join(
    dirname(destination),
    `.${basename(destination)}.${randomBytes(6).toString('hex')}.partial`,
  );
  try {
    const res = await fetch(ticket.url);
    if (!res.ok || !res.body) throw await s3Failure(res, 'The download');
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
    await pipeline(
      Readable.fromWeb(res.body as WebReadableStream<Uint8Array>),
      decipher,
      createWriteStream(temporary, { mode: 0o600, flags: 'wx' }),
    );
    await rename(temporary, destination);
    return { key: ticket.key, size: ticket.size, etag: ticket.etag, contentType: ticket.contentType };
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    if (error instanceof GcmOpenError)
      throw new EaasError('InvalidCiphertext', 'The document could not be decrypted.', 400, undefined);
    throw error;
  } finally {
    contentKey.fill(0);
  }
}
