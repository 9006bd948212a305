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

async function encryptAndSend(
  created: CreatedUpload,
  source: ByteSource,
  size: number,
  send: SealedSend,
  cipher: CipherGCM,
): Promise<{ partNumber: number; etag: string }[]> {
  const parts = [...(created.parts ?? [])].sort((a, b) => a.partNumber - b.partNumber);
  const etags: { partNumber: number; etag: string }[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let carry: Buffer = Buffer.alloc(0);
  let offset = 0;
  let finished = false;
  for (const part of parts) {
    if (failure) break;
    // The plaintext under this part, encrypted in order; then the tag once the plaintext ends.
    const take = Math.min(part.size, size - offset);
    const chunks: Buffer[] = [carry];
    if (take > 0) {
      chunks.push(cipher.update(await readRange(source, offset, take)));
      offset += take;
    }
    if (offset === size && !finished) {
      chunks.push(cipher.final(), cipher.getAuthTag());
      finished = true;
    }
    // One piece (every part but those around the tag) is sent as it is, not copied.
    const pieces = chunks.filter((c) => c.length > 0);
    const all: Buffer = pieces.length === 1 && pieces[0] ? pieces[0] : Buffer.concat(pieces);
    const body = all.subarray(0, part.size);
    carry = all.subarray(part.size);
    if (body.length !== part.size)
      throw new EaasError(
        'SizeMismatch',
        `Part ${part.partNumber} is ${body.length} bytes, not the ${part.size} planned.`,
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
      .finally(() => inFlight.delete(sending));
    inFlight.add(sending);
    while (inFlight.size >= send.concurrency) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  if (failure) throw failure;
  if (!finished || carry.length > 0)
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
