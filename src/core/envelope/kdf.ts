import { hkdfSync, timingSafeEqual } from 'node:crypto';

/**
 * Key derivation of the S3 Encryption Client's committing suite 0x0073
 * (ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY), per the AWS Encryption SDK specification,
 * `s3-encryption/key-derivation.md`: HKDF-SHA512 with the 28-byte message id as salt and the
 * 32-byte data key as input; the encryption key and the commitment from two expansions.
 */

export const SUITE_V3 = 0x0073;
export const SUITE_V3_ID = Buffer.from([0x00, 0x73]);
export const DATA_KEY_BYTES = 32;
export const MESSAGE_ID_BYTES = 28;
export const COMMITMENT_BYTES = 28;
/** The content IV of suite 0x0073: twelve 0x01 bytes (the key is unique per object). */
export const V3_IV = Buffer.alloc(12, 0x01);

const DERIVE_INFO = Buffer.concat([SUITE_V3_ID, Buffer.from('DERIVEKEY', 'utf8')]);
const COMMIT_INFO = Buffer.concat([SUITE_V3_ID, Buffer.from('COMMITKEY', 'utf8')]);

function hkdf(dataKey: Uint8Array, messageId: Uint8Array, info: Buffer, length: number): Buffer {
  if (dataKey.byteLength !== DATA_KEY_BYTES) throw new RangeError(`a data key is ${DATA_KEY_BYTES} bytes`);
  if (messageId.byteLength !== MESSAGE_ID_BYTES)
    throw new RangeError(`a message id is ${MESSAGE_ID_BYTES} bytes`);
  return Buffer.from(hkdfSync('sha512', dataKey, messageId, info, length));
}

/** The 28-byte key commitment stored in `x-amz-d`. */
export function commitmentOf(dataKey: Uint8Array, messageId: Uint8Array): Buffer {
  return hkdf(dataKey, messageId, COMMIT_INFO, COMMITMENT_BYTES);
}

/** The 32-byte AES-256-GCM key of the content. Zero it once the cipher holds it. */
export function derivedKeyOf(dataKey: Uint8Array, messageId: Uint8Array): Buffer {
  return hkdf(dataKey, messageId, DERIVE_INFO, DATA_KEY_BYTES);
}

/** Whether a stored commitment is the one the data key and message id give; constant time. */
export function commitmentMatches(dataKey: Uint8Array, messageId: Uint8Array, stored: Uint8Array): boolean {
  const derived = commitmentOf(dataKey, messageId);
  try {
    return stored.byteLength === derived.length && timingSafeEqual(derived, stored);
  } finally {
    derived.fill(0);
  }
}
