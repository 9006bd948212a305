import { type CipherGCM, createCipheriv } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { DocumentsApi } from './documents-api.js';
import type { CreatedUpload, UploadStatus } from './documents-types.js';
import { EaasError } from './errors.js';
import { type ByteSource, putWithRetry, readRange } from './s3-put.js';

/**
 * An upload sealed in the client (`sealedBy: 'client'`): the service answers the new object's
 * AES-256-GCM content key, IV and AAD with presigned parts of the vault's multipart upload; this
 * encrypts the document as one GCM message, appends the 16-byte tag, cuts that into the planned
 * parts and PUTs them straight into the vault, then completes. The plaintext never leaves this
 * process and crosses the network once, as ciphertext. The file is read once, in order (GCM is
 * sequential); memory is the parts in flight. Not resumable: the content key is handed out once.
 */

export interface SealedSend {
  concurrency: number;
  attempts: number;
  signal?: AbortSignal | undefined;
  /** Told the plaintext bytes each part carried, once S3 took it. */
  progress: (plaintextBytes: number) => void;
  /** Waited on before each part is sent (a rate limit). */
  pace: () => Promise<void>;
}

type Docs = { documents: DocumentsApi };

/** The base64 fields of the answer as bytes; the key is the caller's to zero. */
function cipherOf(created: CreatedUpload): CipherGCM {
  const c = created.cipher;
  if (c?.algorithm !== 'AES-256-GCM' || c.tagLength !== 16 || !created.parts?.length)
    throw new EaasError(
      'InvalidResponse',
      'The service answered no content cipher or parts.',
      502,
      undefined,
    );
  const key = Buffer.from(c.key, 'base64');
  try {
    const cipher = createCipheriv('aes-256-gcm', key, Buffer.from(c.iv, 'base64'), { authTagLength: 16 });
    const aad = Buffer.from(c.aad, 'base64');
    if (aad.length > 0) cipher.setAAD(aad);
    return cipher;
  } finally {
    key.fill(0);
  }
}

/**
 * Encrypts the `size` bytes of `source` and sends them into the created upload's parts; answers
 * the parts' ETags. Part i of the ciphertext covers the same offsets of the plaintext (GCM does
 * not change lengths); the tag follows the last plaintext byte, and may spill into a last part.
 */
export async function sendSealed(
  created: CreatedUpload,
  source: ByteSource,
  size: number,
  send: SealedSend,
): Promise<{ partNumber: number; etag: string }[]> {
  const cipher = cipherOf(created);
  // The file is read once, in order: one handle for the whole of it.
  const handle = source.handle ?? (source.bytes ? undefined : await open(source.file as string, 'r'));
  try {
    return await encryptAndSend(created, { ...source, ...(handle ? { handle } : {}) }, size, send, cipher);
  } finally {
    if (handle && !source.handle) await handle.close();
  }
}

/**
 * The slice of plaintext each `cipher.update` takes: its output, a new buffer each call (Node's
 * ciphers write into no buffer of the caller's), is copied into the part's buffer and dropped, so
 * the garbage awaiting the collector is a few of these, not whole parts.
 */
const CIPHER_SLICE = 1024 * 1024;

async function encryptAndSend(
  created: CreatedUpload,
  source: ByteSource,
  size: number,
  send: SealedSend,
  cipher: CipherGCM,
): Promise<{ partNumber: number; etag: string }[]> {
  const parts = [...(created.parts ?? [])].sort((a, b) => a.partNumber - b.partNumber);
  const largest = Math.max(0, ...parts.map((p) => p.size));
  const etags: { partNumber: number; etag: string }[] = [];
  const inFlight = new Set<Promise<void>>();
  // Memory is bounded by the parts in flight: one buffer each, reused once S3 has taken its part
  // (they are at most `concurrency`, the loop below waits for one to end before filling another);
  // and one buffer the plaintext is read into, reused for every part.
  const free: Buffer[] = [];
  const plain = source.bytes ? undefined : Buffer.allocUnsafe(largest);
  let failure: unknown;
  // The tag's bytes still to send: it follows the last plaintext byte and may spill into a last part.
  let tag: Buffer | undefined;
  let offset = 0;
  let finished = false;
  for (const part of parts) {
    if (failure) break;
    const body = (free.pop() ?? Buffer.allocUnsafe(largest)).subarray(0, part.size);
    let filled = 0;
    // The plaintext under this part, encrypted in order (GCM keeps lengths: part i of the
    // ciphertext covers the same offsets of the plaintext).
    const take = Math.max(0, Math.min(part.size, size - offset));
    if (take > 0) {
      const read = await readRange(source, offset, take, plain);
      for (let at = 0; at < take; at += CIPHER_SLICE)
        filled += cipher.update(read.subarray(at, Math.min(take, at + CIPHER_SLICE))).copy(body, filled);
      offset += take;
    }
    if (offset === size && !finished) {
      tag = Buffer.concat([cipher.final(), cipher.getAuthTag()]);
      finished = true;
    }
    if (tag && filled < part.size) {
      const n = tag.copy(body, filled);
      filled += n;
      tag = tag.subarray(n);
    }
    if (filled !== part.size)
      throw new EaasError(
        'SizeMismatch',
        `Part ${part.partNumber} is ${filled} bytes, not the ${part.size} planned.`,
        400,
        undefined,
      );
    const plainBytes = take;
    await send.pace();
    const sending = putWithRetry(part.url, body, {}, send.attempts, `Part ${part.partNumber}`, send.signal)
      .then((etag) => {
        etags.push({ partNumber: part.partNumber, etag });
        send.progress(plainBytes);
      })
      .catch((error: unknown) => {
        failure ??= error;
      })
      .finally(() => {
        inFlight.delete(sending);
        // Settled, retries included: nothing reads this buffer any more.
        free.push(Buffer.from(body.buffer, body.byteOffset, largest));
      });
    inFlight.add(sending);
    while (inFlight.size >= send.concurrency) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  if (failure) throw failure;
  if (!finished || (tag && tag.length > 0))
    throw new EaasError(
      'SizeMismatch',
      'The parts planned do not hold the document and its tag.',
      400,
      undefined,
    );
  return etags.sort((a, b) => a.partNumber - b.partNumber);
}

/**
 * Creates a client-sealed upload, sends it and completes it: the document is in place once this
 * answers, or (`verify`) once the service has authenticated it (the caller waits for the seal).
 */
export async function uploadSealed(
  client: Docs,
  input: ByteSource & {
    key: string;
    keyId: string;
    context?: Record<string, string>;
    contentType?: string;
    overwrite?: boolean;
  },
  size: number,
  send: SealedSend & {
    /** The service authenticates the object before it is listed (the caller waits for the seal). */
    verify?: boolean;
    onCreated?: (created: CreatedUpload) => void | Promise<void>;
    cancelOnFailure: boolean;
  },
): Promise<UploadStatus> {
  const created = await client.documents.createUpload({
    key: input.key,
    keyId: input.keyId,
    size,
    sealedBy: 'client',
    ...(send.verify ? { verify: true } : {}),
    ...(input.context ? { context: input.context } : {}),
    ...(input.contentType ? { contentType: input.contentType } : {}),
    ...(input.overwrite !== undefined ? { overwrite: input.overwrite } : {}),
  });
  // The content key lives in the cipher only; the answer's copy goes.
  const issued = created.cipher;
  try {
    await send.onCreated?.(created);
    const etags = await sendSealed(created, input, size, send);
    if (issued) issued.key = '';
    return await client.documents.completeUpload(created.id, etags);
  } catch (error) {
    if (send.cancelOnFailure) await client.documents.cancelUpload(created.id).catch(() => undefined);
    throw error;
  } finally {
    if (issued) issued.key = '';
  }
}
