import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { EaasError } from './errors.js';

/**
 * The bytes of an upload and their PUTs to presigned URLs: a part read into a buffer reused
 * between parts, sent with node:http(s) (fetch would copy the body once more), retried on a
 * network error, a 5xx or throttling; any other refusal of S3 is final.
 */

/** Where an upload's bytes come from: a file by name, an open file, or bytes in memory. */
export interface ByteSource {
  file?: string | undefined;
  handle?: FileHandle | undefined;
  bytes?: Uint8Array | undefined;
}

/** Reads `size` bytes at `offset` of the source (into `into` when it is large enough). */
export async function readRange(
  source: ByteSource,
  offset: number,
  size: number,
  into?: Buffer,
): Promise<Buffer> {
  const { bytes } = source;
  if (bytes) return Buffer.from(bytes.buffer, bytes.byteOffset + offset, size);
  const handle = source.handle ?? (await open(source.file as string, 'r'));
  try {
    const buffer = into && into.length >= size ? into.subarray(0, size) : Buffer.allocUnsafe(size);
    let read = 0;
    while (read < size) {
      const { bytesRead } = await handle.read(buffer, read, size - read, offset + read);
      if (bytesRead === 0) throw new Error(`${source.file ?? 'the input'} is shorter than announced`);
      read += bytesRead;
    }
    return buffer;
  } finally {
    if (!source.handle) await handle.close();
  }
}

interface PutAnswer {
  status: number;
  etag: string;
  text: string;
}

function putBytes(url: string, body: Buffer, headers: Record<string, string>, signal?: AbortSignal) {
  const target = new URL(url);
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<PutAnswer>((resolve, reject) => {
    const req = request(
      target,
      {
        method: 'PUT',
        headers: { ...headers, 'content-length': String(body.length) },
        timeout: 120_000,
        ...(signal ? { signal } : {}),
      },
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
export function s3Refusal(status: number, text: string, what: string): EaasError {
  const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? `Http${status}`;
  const message = /<Message>([^<]+)<\/Message>/.exec(text)?.[1] ?? '';
  return new EaasError(
    /expired/i.test(message) ? 'UploadExpired' : code,
    `${what} was refused by S3: ${code}${message ? ` (${message})` : ''}.`,
    status,
    undefined,
  );
}

/** PUTs `body` to a presigned URL, retried; answers the ETag. */
export async function putWithRetry(
  url: string,
  body: Buffer,
  headers: Record<string, string>,
  attempts: number,
  what: string,
  signal?: AbortSignal,
): Promise<string> {
  let last: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    signal?.throwIfAborted();
    try {
      const res = await putBytes(url, body, headers, signal);
      if (res.status >= 200 && res.status < 300) return res.etag;
      const failure = s3Refusal(res.status, res.text, what);
      // 4xx other than throttling will not change on a retry (expired link, wrong size, no access).
      if (res.status < 500 && res.status !== 429) throw failure;
      last = failure;
    } catch (error) {
      if (signal?.aborted) throw error;
      if (error instanceof EaasError && error.status < 500 && error.status !== 429) throw error;
      last = error;
    }
    await new Promise((r) => setTimeout(r, 200 * 2 ** attempt * Math.random()));
  }
  throw last;
}
