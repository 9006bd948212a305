import { createDecipheriv } from 'node:crypto';
import { Transform } from 'node:stream';

/** The length of an AES-GCM tag as S3's encryption clients write it: after the ciphertext. */
const TAG_LENGTH = 16;

/** Any failure to open a body: a bad tag, a truncated body, a wrong key. One message for all. */
export class GcmOpenError extends Error {
  override readonly name = 'GcmOpenError';
  constructor(options?: ErrorOptions) {
    super('The body could not be decrypted and authenticated.', options);
  }
}

/** What a download ticket hands the client: the content key, IV and additional data, raw. */
export interface GcmParameters {
  key: Uint8Array;
  iv: Uint8Array;
  aad: Uint8Array;
}

/**
 * A transform that opens `ciphertext || tag` with AES-256-GCM as the bytes arrive. It keeps the
 * last 16 bytes it has seen back (they may be the tag) and fails at the end with GcmOpenError when
 * the tag does not authenticate or the body is shorter than a tag. What it releases before the end
 * is unauthenticated: write it somewhere only the caller sees until the stream has finished.
 * The decipher keeps its own copy of the key; the caller zeroes `key`.
 */
export function openGcmStream({ key, iv, aad }: GcmParameters): Transform {
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_LENGTH });
  if (aad.byteLength > 0) decipher.setAAD(aad);
  let held = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const joined = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
      const release = joined.length - TAG_LENGTH;
      if (release <= 0) {
        held = Buffer.from(joined);
        callback();
        return;
      }
      held = Buffer.from(joined.subarray(release));
      callback(null, decipher.update(joined.subarray(0, release)));
    },
    flush(callback) {
      if (held.length !== TAG_LENGTH) {
        callback(new GcmOpenError());
        return;
      }
      try {
        decipher.setAuthTag(held);
        const rest = decipher.final();
        callback(null, rest.length > 0 ? rest : undefined);
      } catch (error) {
        callback(new GcmOpenError({ cause: error }));
      }
    },
  });
}
