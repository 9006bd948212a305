import { type CipherGCM, createCipheriv, createDecipheriv, type DecipherGCM, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  commitmentMatches,
  commitmentOf,
  DATA_KEY_BYTES,
  derivedKeyOf,
  MESSAGE_ID_BYTES,
  SUITE_V3_ID,
  V3_IV,
} from './kdf.js';
import { type EnvelopeHeader, type EnvelopeVersion, V2_IV_BYTES } from './metadata.js';

/**
 * Streaming seal and open of an object body in the S3 Encryption Client formats: one AES-256-GCM
 * stream over the whole object, the 16-byte tag appended. Memory stays constant whatever the
 * size. Both take the plaintext data key and zero it as soon as the cipher holds its key.
 *
 * The open transform releases plaintext before it has seen the tag (GCM authenticates at the
 * end). Callers that hand plaintext on must authenticate first: `authenticate()` runs a pass that
 * releases nothing, or the caller buffers a small object until the stream ends.
 */

export const TAG_BYTES = 16;
/** GCM's bound on one message: 2^39 - 256 bits of plaintext. */
export const MAX_PLAINTEXT_BYTES = 2 ** 36 - 32;

/** Every failure to open an object: wrong key, commitment, tag, truncation. One message for all. */
export class EnvelopeDecryptError extends Error {
  override readonly name = 'EnvelopeDecryptError';
  constructor(options?: ErrorOptions) {
    super('The object could not be decrypted and authenticated.', options);
  }
}

export interface SealInput {
  version: EnvelopeVersion;
  /** The 32-byte plaintext data key; zeroed by `sealer`. Never reuse it for another object. */
  dataKey: Buffer;
  /** The data key wrapped by KMS under `kmsContext`. */
  wrappedKey: Buffer;
  kmsContext: Record<string, string>;
  /** V2 only: written as x-amz-unencrypted-content-length when known in advance. */
  plaintextLength?: number | undefined;
}

function nonZeroRandom(length: number): Buffer {
  for (;;) {
    const bytes = randomBytes(length);
    if (bytes.some((b) => b !== 0)) return bytes;
  }
}

class SealTransform extends Transform {
  private length = 0;

  constructor(private readonly cipher: CipherGCM) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.length += chunk.length;
    if (this.length > MAX_PLAINTEXT_BYTES) {
      done(new RangeError(`An object is at most ${MAX_PLAINTEXT_BYTES} bytes.`));
      return;
    }
    done(null, this.cipher.update(chunk));
  }

  override _flush(done: TransformCallback): void {
    const last = this.cipher.final();
    if (last.length > 0) this.push(last);
    done(null, this.cipher.getAuthTag());
  }
}

/**
 * A new object's header and the transform that turns its plaintext into its S3 body. V3 draws a
 * random 28-byte message id and derives the content key and commitment from it; V2 draws a
 * random 12-byte IV and uses the data key itself.
 */
export function sealer(input: SealInput): { header: EnvelopeHeader; stream: Transform } {
  const { header, cipher: content } = contentSealOf(input);
  try {
    const cipher = createCipheriv('aes-256-gcm', content.key, content.iv, { authTagLength: TAG_BYTES });
    if (content.aad.length > 0) cipher.setAAD(content.aad);
    return { header, stream: new SealTransform(cipher) };
  } finally {
    content.key.fill(0);
  }
}

/**
 * A new object's header and its AES-256-GCM content cipher (key, IV, AAD), for a writer that
 * encrypts the body elsewhere (an uploader sealing in the client); `sealer` makes its stream from
 * it. Zeroes `dataKey`; the caller zeroes the answered `cipher.key` once handed on.
 */
export function contentSealOf(input: SealInput): { header: EnvelopeHeader; cipher: ContentCipher } {
  const { dataKey } = input;
  try {
    if (dataKey.length !== DATA_KEY_BYTES) throw new RangeError(`A data key is ${DATA_KEY_BYTES} bytes.`);
    if (input.version === 'v2') {
      const iv = nonZeroRandom(V2_IV_BYTES);
      return {
        header: {
          version: 'v2',
          wrappedKey: input.wrappedKey,
          kmsContext: input.kmsContext,
          iv,
          ...(input.plaintextLength !== undefined ? { plaintextLength: input.plaintextLength } : {}),
        },
        cipher: { key: Buffer.from(dataKey), iv: Buffer.from(iv), aad: Buffer.alloc(0) },
      };
    }
    const messageId = nonZeroRandom(MESSAGE_ID_BYTES);
    return {
      header: {
        version: 'v3',
        wrappedKey: input.wrappedKey,
        kmsContext: input.kmsContext,
        messageId,
        commitment: commitmentOf(dataKey, messageId),
      },
      cipher: {
        key: derivedKeyOf(dataKey, messageId),
        iv: Buffer.from(V3_IV),
        aad: Buffer.from(SUITE_V3_ID),
      },
    };
  } finally {
    dataKey.fill(0);
  }
}

class OpenTransform extends Transform {
  /** The last bytes seen, which may be the tag. */
  private tail = Buffer.alloc(0);

  constructor(private readonly decipher: DecipherGCM) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const data = this.tail.length > 0 ? Buffer.concat([this.tail, chunk]) : chunk;
    if (data.length <= TAG_BYTES) {
      this.tail = Buffer.from(data);
      done();
      return;
    }
    this.tail = Buffer.from(data.subarray(data.length - TAG_BYTES));
    done(null, this.decipher.update(data.subarray(0, data.length - TAG_BYTES)));
  }

  override _flush(done: TransformCallback): void {
    if (this.tail.length !== TAG_BYTES) {
      done(new EnvelopeDecryptError());
      return;
    }
    try {
      this.decipher.setAuthTag(this.tail);
      const last = this.decipher.final();
      done(null, last.length > 0 ? last : undefined);
    } catch (error) {
      done(new EnvelopeDecryptError({ cause: error }));
    }
  }
}

/** The AES-256-GCM parameters of an object's content: what a plain GCM implementation needs to open it. */
export interface ContentCipher {
  /** The 32-byte content key: the data key (V2) or the key derived from it (V3). Zero it after use. */
  key: Buffer;
  iv: Buffer;
  /** Additional authenticated data: the suite id (V3), none (V2). */
  aad: Buffer;
}

/**
 * The content key, IV and AAD of an object. A V3 commitment that does not match the data key
 * fails here, before any key is derived. Zeroes `dataKey`.
 */
export function contentCipherOf(header: EnvelopeHeader, dataKey: Buffer): ContentCipher {
  try {
    if (dataKey.length !== DATA_KEY_BYTES) throw new EnvelopeDecryptError();
    if (header.version === 'v2') {
      if (!header.iv) throw new EnvelopeDecryptError();
      return { key: Buffer.from(dataKey), iv: Buffer.from(header.iv), aad: Buffer.alloc(0) };
    }
    const { messageId, commitment } = header;
    if (!messageId || !commitment || !commitmentMatches(dataKey, messageId, commitment))
      throw new EnvelopeDecryptError();
    return { key: derivedKeyOf(dataKey, messageId), iv: Buffer.from(V3_IV), aad: Buffer.from(SUITE_V3_ID) };
  } finally {
    dataKey.fill(0);
  }
}

/**
 * The transform that turns a stored body back into plaintext; it fails at the end on a bad tag or
 * a truncated body, and at once on a V3 commitment that does not match. Zeroes `dataKey`.
 */
export function opener(header: EnvelopeHeader, dataKey: Buffer): Transform {
  const cipher = contentCipherOf(header, dataKey);
  try {
    return gcmOpener(cipher);
  } finally {
    cipher.key.fill(0);
  }
}

/**
 * The transform that opens `ciphertext || tag` with plain AES-256-GCM: it holds back the last 16
 * bytes and fails at the end (EnvelopeDecryptError) on a bad tag or a truncated body. The caller
 * zeroes `key`; the decipher keeps its own copy.
 */
export function gcmOpener({ key, iv, aad }: ContentCipher): Transform {
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  if (aad.length > 0) decipher.setAAD(aad);
  return new OpenTransform(decipher);
}

/**
 * Authenticates a stored body without releasing any of it: decrypts into nothing and checks the
 * tag. Resolves to the plaintext length; rejects with EnvelopeDecryptError. Zeroes `dataKey`.
 */
export async function authenticate(
  header: EnvelopeHeader,
  dataKey: Buffer,
  body: NodeJS.ReadableStream,
): Promise<number> {
  let length = 0;
  const discard = new Writable({
    write(chunk: Buffer, _enc, done) {
      length += chunk.length;
      chunk.fill(0);
      done();
    },
  });
  try {
    await pipeline(body, opener(header, dataKey), discard);
  } catch (error) {
    throw error instanceof EnvelopeDecryptError ? error : new EnvelopeDecryptError({ cause: error });
  }
  return length;
}
