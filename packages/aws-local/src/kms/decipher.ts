import type { Decipher } from 'node:crypto';

/**
 * `decipher.update(data)` and `final()` as one buffer, the caller's to zero; the intermediate
 * outputs (plaintext too: key material, a wrapping private key) are zeroed once copied, and on
 * failure (an authentication tag that does not match: `update` has already output plaintext).
 */
export function decipherAll(decipher: Decipher, data: Uint8Array): Buffer {
  const parts: Buffer[] = [];
  try {
    parts.push(decipher.update(data));
    parts.push(decipher.final());
    return Buffer.concat(parts);
  } finally {
    for (const part of parts) part.fill(0);
  }
}
