/** An encryption context: non-secret string pairs bound to a ciphertext as authenticated data. */
export type EncryptionContext = Readonly<Record<string, string>>;

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * The canonical bytes of a context: pairs sorted by key (UTF-8 byte order), each key and value
 * written as a 2-byte big-endian length and its UTF-8 bytes, after a 2-byte pair count.
 * Equal contexts give equal bytes whatever the order the caller wrote them in.
 */
export function canonicalContextBytes(context: EncryptionContext | undefined): Buffer {
  const entries = Object.entries(context ?? {}).sort(([a], [b]) => compareUtf8(a, b));
  const chunks: Buffer[] = [];
  const count = Buffer.alloc(2);
  count.writeUInt16BE(entries.length);
  chunks.push(count);
  for (const [key, value] of entries) {
    for (const text of [key, value]) {
      const bytes = Buffer.from(text, 'utf8');
      const len = Buffer.alloc(2);
      len.writeUInt16BE(bytes.length);
      chunks.push(len, bytes);
    }
  }
  return Buffer.concat(chunks);
}

/** True when both contexts hold exactly the same pairs. */
export function contextsEqual(a: EncryptionContext | undefined, b: EncryptionContext | undefined): boolean {
  return canonicalContextBytes(a).equals(canonicalContextBytes(b));
}
