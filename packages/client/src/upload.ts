import { stat } from 'node:fs/promises';
import type { DocumentsApi } from './documents-api.js';
import type { PartUrl, UploadStatus } from './documents-types.js';
import { EaasError } from './errors.js';
import { type ByteSource, putWithRetry, readRange } from './s3-put.js';
import type { Context } from './types.js';
import { uploadSealed } from './upload-sealed.js';

/**
 * Documents of any size through the API: the bytes go straight to the presigned staging URLs and
 * the upload is followed until sealed. A multipart upload stopped half-way resumes: the parts S3
 * holds are kept (POST /v1/uploads/{id}/parts) and only the rest are sent. Memory stays bounded
 * by the part size times the parts in flight.
 */

export interface UploadInput extends ByteSource {
  key: string;
  keyId: string;
  context?: Context;
  contentType?: string;
  overwrite?: boolean;
}

export interface UploadProgress {
  sentBytes: number;
  totalBytes: number;
}

/** What an upload is, once it exists: to note its id and resume it after an interruption. */
export interface UploadStarted {
  id: string;
  method: 'PUT' | 'multipart';
  expiresAt: string;
  /** Parts S3 already held (a resumed upload) and parts in all. */
  resumedParts: number;
  totalParts: number;
  resumedBytes: number;
}

export interface UploadOptions {
  /**
   * Who encrypts (default `service`). `client`: this process encrypts with the content key the
   * service hands it and sends the ciphertext straight into the vault: the plaintext never leaves
   * it and crosses the network once; the document is in place when this answers (no seal to
   * wait for). Not resumable: `resumeId` is ignored and a failed upload starts over.
   */
  seal?: 'client' | 'service';
  /**
   * With `seal: 'client'` only (else a TypeError): the service authenticates the stored object
   * (reading it once more inside AWS, never releasing plaintext) before it is listed; this waits
   * for that as for a seal (`sealTimeoutMs`, `waitForSeal`). A tampered part ends failed
   * (EaasError `VerifyFailed`) and nothing is listed or replaced.
   */
  verify?: boolean;
  /** Parts sent at once (default 4). */
  concurrency?: number;
  /** Tries per part or PUT before the upload is given up (default 3). */
  attempts?: number;
  onProgress?: (progress: UploadProgress) => void;
  /** How long to wait for the seal, in milliseconds (default 15 minutes). */
  sealTimeoutMs?: number;
  /** Whether to wait for the seal at all (default true). */
  waitForSeal?: boolean;
  /** A pending multipart upload of the same document to resume; a new one starts if it cannot be. */
  resumeId?: string;
  /** Told once the upload exists (new or resumed), before any byte is sent. */
  onStarted?: (started: UploadStarted) => void | Promise<void>;
  /** Whether a failure cancels the upload (default true); false keeps it, to resume it later. */
  cancelOnFailure?: boolean;
  /** Sends no faster than this on average (bytes per second), measured between parts. */
  maxBytesPerSecond?: number;
  signal?: AbortSignal;
}

type Docs = { documents: DocumentsApi };

/** Follows an upload until it is sealed or failed; a failure is thrown with its code. */
export async function waitForSeal(client: Docs, id: string, timeoutMs = 15 * 60_000): Promise<UploadStatus> {
  const deadline = Date.now() + timeoutMs;
  let delay = 50;
  for (;;) {
    const status = await client.documents.getUpload(id);
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

interface Plan {
  id: string;
  status: UploadStatus;
  single?: { url: string; headers: Record<string, string> };
  partSize: number;
  parts: PartUrl[];
  done: { partNumber: number; etag: string }[];
  started: UploadStarted;
}

/**
 * The upload to resume, if it can be: undefined when it is gone, expired or over (failed), or
 * when it is not an upload of this document (another name or size: a stale or edited resume
 * record must never send these bytes into, or report success for, another upload).
 */
async function resumed(
  client: Docs,
  id: string,
  expected: { key: string; size: number },
): Promise<Plan | UploadStatus | undefined> {
  const same = (status: { key: string; size: number }) =>
    status.key === expected.key && status.size === expected.size;
  try {
    const r = await client.documents.resumeUpload(id);
    if (!same(r)) return undefined;
    const count = r.parts.length + r.uploaded.length;
    return {
      id,
      status: r,
      partSize: r.partSize,
      parts: r.parts,
      done: r.uploaded.map(({ partNumber, etag }) => ({ partNumber, etag })),
      started: {
        id,
        method: 'multipart',
        expiresAt: r.expiresAt,
        resumedParts: r.uploaded.length,
        totalParts: count,
        resumedBytes: r.uploaded.reduce((n, p) => n + p.size, 0),
      },
    };
  } catch (error) {
    if (!(error instanceof EaasError)) throw error;
    if (error.status === 409) {
      // Sealed already, or being completed: nothing to send again.
      const status = await client.documents.getUpload(id).catch(() => undefined);
      return status && status.state !== 'failed' && same(status) ? status : undefined;
    }
    if (error.status === 404 || error.status === 410) return undefined;
    throw error;
  }
}

async function created(client: Docs, input: UploadInput, size: number): Promise<Plan> {
  const c = await client.documents.createUpload({
    key: input.key,
    keyId: input.keyId,
    size,
    ...(input.context ? { context: input.context } : {}),
    ...(input.contentType ? { contentType: input.contentType } : {}),
    ...(input.overwrite !== undefined ? { overwrite: input.overwrite } : {}),
  });
  const parts = c.parts ?? [];
  return {
    id: c.id,
    status: c,
    ...(c.method === 'PUT' ? { single: { url: c.url as string, headers: c.headers ?? {} } } : {}),
    partSize: c.partSize ?? size,
    parts,
    done: [],
    started: {
      id: c.id,
      method: c.method,
      expiresAt: c.expiresAt,
      resumedParts: 0,
      totalParts: c.method === 'PUT' ? 1 : parts.length,
      resumedBytes: 0,
    },
  };
}

/** Uploads a document of any size and, by default, waits until it is sealed into the vault. */
export async function uploadDocument(
  client: Docs,
  input: UploadInput,
  options: UploadOptions = {},
): Promise<UploadStatus & { resumedParts: number }> {
  const sources = [input.file, input.handle, input.bytes].filter((s) => s !== undefined);
  if (sources.length !== 1) throw new TypeError('Give one of file, handle or bytes.');
  const size = input.bytes
    ? input.bytes.byteLength
    : input.handle
      ? (await input.handle.stat()).size
      : (await stat(input.file as string)).size;
  if (options.verify && options.seal !== 'client')
    throw new TypeError("verify is for an upload sealed by the client (seal: 'client').");
  if (options.seal === 'client')
    return { ...(await sealedHere(client, input, size, options)), resumedParts: 0 };
  const found = options.resumeId
    ? await resumed(client, options.resumeId, { key: input.key, size })
    : undefined;
  if (found && !('started' in found)) {
    const status =
      options.waitForSeal === false ? found : await waitForSeal(client, found.id, options.sealTimeoutMs);
    return { ...status, resumedParts: 0 };
  }
  const plan = found ?? (await created(client, input, size));
  await options.onStarted?.(plan.started);
  const attempts = options.attempts ?? 3;
  const begun = Date.now();
  let sent = plan.started.resumedBytes;
  let sentNow = 0;
  const progress = (n: number) => {
    sent += n;
    sentNow += n;
    options.onProgress?.({ sentBytes: sent, totalBytes: size });
  };
  if (sent > 0) options.onProgress?.({ sentBytes: sent, totalBytes: size });
  const pace = async () => {
    const rate = options.maxBytesPerSecond;
    if (!rate) return;
    const wait = (sentNow / rate) * 1000 - (Date.now() - begun);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  };
  try {
    if (plan.single) {
      const body = await readRange(input, 0, size);
      await putWithRetry(plan.single.url, body, plan.single.headers, attempts, 'The upload', options.signal);
      progress(size);
    } else {
      const etags = [...plan.done];
      let next = 0;
      const worker = async () => {
        // One buffer per worker, reused for each of its parts: memory is the parts in flight.
        const buffer = input.bytes ? undefined : Buffer.allocUnsafe(plan.partSize);
        while (next < plan.parts.length) {
          const part = plan.parts[next++];
          if (!part) break;
          await pace();
          const body = await readRange(input, (part.partNumber - 1) * plan.partSize, part.size, buffer);
          const what = `Part ${part.partNumber}`;
          const etag = await putWithRetry(part.url, body, {}, attempts, what, options.signal);
          etags.push({ partNumber: part.partNumber, etag });
          progress(part.size);
        }
      };
      const workers = Math.max(1, Math.min(options.concurrency ?? 4, plan.parts.length));
      await Promise.all(Array.from({ length: workers }, worker));
      await client.documents.completeUpload(
        plan.id,
        etags.sort((a, b) => a.partNumber - b.partNumber),
      );
    }
  } catch (error) {
    if (options.cancelOnFailure !== false)
      await client.documents.cancelUpload(plan.id).catch(() => undefined);
    throw error;
  }
  const resumedParts = plan.started.resumedParts;
  if (options.waitForSeal === false) return { ...plan.status, resumedParts };
  return { ...(await waitForSeal(client, plan.id, options.sealTimeoutMs)), resumedParts };
}

/** `seal: 'client'`: encrypted here and sent into the vault (see `upload-sealed.ts`). */
async function sealedHere(client: Docs, input: UploadInput, size: number, options: UploadOptions) {
  let sent = 0;
  const begun = Date.now();
  const completed = await uploadSealed(client, input, size, {
    ...(options.verify ? { verify: true } : {}),
    concurrency: Math.max(1, options.concurrency ?? 4),
    attempts: options.attempts ?? 3,
    signal: options.signal,
    cancelOnFailure: options.cancelOnFailure !== false,
    progress: (n) => {
      sent += n;
      options.onProgress?.({ sentBytes: sent, totalBytes: size });
    },
    pace: async () => {
      const rate = options.maxBytesPerSecond;
      if (!rate) return;
      const wait = (sent / rate) * 1000 - (Date.now() - begun);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    },
    onCreated: async (created) =>
      options.onStarted?.({
        id: created.id,
        method: 'multipart',
        expiresAt: created.expiresAt,
        resumedParts: 0,
        totalParts: created.parts?.length ?? 0,
        resumedBytes: 0,
      }),
  });
  // A verified upload is pending until the service has authenticated it (waitForSeal throws a failure).
  const status =
    completed.state === 'pending' && options.waitForSeal !== false
      ? await waitForSeal(client, completed.id, options.sealTimeoutMs)
      : completed;
  if (status.state === 'failed')
    throw new EaasError(
      status.error?.code ?? 'SealFailed',
      status.error?.message ?? 'The upload failed.',
      409,
      undefined,
    );
  return status;
}
