import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { canonicalContextBytes, type EncryptionContext } from '@eaas/aws-rules';

/**
 * The local KMS ciphertext blob. Like AWS's, it names the key and the key material version that
 * made it, so Decrypt needs no KeyId and old versions stay readable after rotation:
 *
 *   0x01 | 0x4d ('M', local format 2) | key id (36 ASCII bytes) | material index (uint32 BE)
 *   | IV (12) | AES-256-GCM ciphertext | tag (16)
 *
 * The AAD is the 42-byte header followed by the canonical encryption context, so the key id,
 * the version and the context are all authenticated.
 */
const MARKER = 0x01;
/** 'M': format 2 (4-byte lengths in the canonical context). Format 1 ('L', 2-byte lengths) is not read. */
const FORMAT = 0x4d;
const KEY_ID_LENGTH = 36;
const HEADER_LENGTH = 2 + KEY_ID_LENGTH + 4;
const IV_LENGTH = 12;
const TAG_LENGTH = 16;
export const BLOB_OVERHEAD = HEADER_LENGTH + IV_LENGTH + TAG_LENGTH;

export interface BlobHeader {
  keyId: string;
  materialIndex: number;
}

function header({ keyId, materialIndex }: BlobHeader): Buffer {
  const out = Buffer.alloc(HEADER_LENGTH);
  out[0] = MARKER;
  out[1] = FORMAT;
  out.write(keyId, 2, KEY_ID_LENGTH, 'latin1');
  out.writeUInt32BE(materialIndex, 2 + KEY_ID_LENGTH);
  return out;
}

/** Reads a blob's header, or undefined when the bytes are not a blob of this format. */
export function parseBlobHeader(blob: Uint8Array): BlobHeader | undefined {
  if (blob.length < BLOB_OVERHEAD || blob[0] !== MARKER || blob[1] !== FORMAT) return undefined;
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  const keyId = buf.toString('latin1', 2, 2 + KEY_ID_LENGTH);
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(keyId)) return undefined;
  return { keyId, materialIndex: buf.readUInt32BE(2 + KEY_ID_LENGTH) };
}

export function sealBlob(
  material: Buffer,
  head: BlobHeader,
  plaintext: Uint8Array,
  context: EncryptionContext | undefined,
): Buffer {
  const h = header(head);
  const iv = randomBytes(IV_LENGTH);
  const cipher = createCipheriv('aes-256-gcm', material, iv);
  cipher.setAAD(Buffer.concat([h, canonicalContextBytes(context)]));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([h, iv, body, cipher.getAuthTag()]);
}

/** Opens a blob; undefined for any failure (wrong material, wrong context, tampering). */
export function openBlob(
  material: Buffer,
  blob: Uint8Array,
  context: EncryptionContext | undefined,
): Buffer | undefined {
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  const h = buf.subarray(0, HEADER_LENGTH);
  const iv = buf.subarray(HEADER_LENGTH, HEADER_LENGTH + IV_LENGTH);
  const body = buf.subarray(HEADER_LENGTH + IV_LENGTH, buf.length - TAG_LENGTH);
  const tag = buf.subarray(buf.length - TAG_LENGTH);
  try {
    const decipher = createDecipheriv('aes-256-gcm', material, iv);
    decipher.setAAD(Buffer.concat([h, canonicalContextBytes(context)]));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    return undefined;
  }
}
