const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * True when a string has no lone surrogate. UTF-8 encodes every lone surrogate as U+FFFD, so two
 * different strings would give the same bytes and a ciphertext would open under either.
 */
export function isWellFormedText(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/** An encryption context: non-secret string pairs bound to a ciphertext as authenticated data. */
export type EncryptionContext = Readonly<Record<string, string>>;

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * The canonical bytes of a context: pairs sorted by key (UTF-8 byte order), each key and value
 * written as a 4-byte big-endian length and its UTF-8 bytes, after a 4-byte pair count.
 * Equal contexts give equal bytes whatever the order the caller wrote them in.
 */
export function canonicalContextBytes(context: EncryptionContext | undefined): Buffer {
  const entries = Object.entries(context ?? {}).sort(([a], [b]) => compareUtf8(a, b));
  const chunks: Buffer[] = [];
  const count = Buffer.alloc(4);
  count.writeUInt32BE(entries.length);
  chunks.push(count);
  for (const [key, value] of entries) {
    for (const text of [key, value]) {
      const bytes = Buffer.from(String(text), 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(bytes.length);
      chunks.push(len, bytes);
    }
  }
  return Buffer.concat(chunks);
}

/** Bytes of keys and values of a context, without encoding it. */
export function contextByteLength(context: EncryptionContext | undefined): number {
  let total = 0;
  for (const [k, v] of Object.entries(context ?? {}))
    total += Buffer.byteLength(k, 'utf8') + Buffer.byteLength(String(v), 'utf8');
  return total;
}

/** True when both contexts hold exactly the same pairs. */
export function contextsEqual(a: EncryptionContext | undefined, b: EncryptionContext | undefined): boolean {
  return canonicalContextBytes(a).equals(canonicalContextBytes(b));
}

/** Bounds of an encryption context given by a caller. */
export const CONTEXT_LIMITS = Object.freeze({
  maxPairs: 32,
  maxKeyLength: 128,
  maxValueLength: 1024,
  maxTotalBytes: 4096,
});

/** Prefixes reserved for AWS and the AWS Encryption SDK / S3 Encryption Client. */
export const RESERVED_CONTEXT_PREFIXES: readonly string[] = ['aws:', 'aws-crypto-', 'aws-kms'];

/**
 * Problems of a caller's encryption context, each with the path of the pair; empty when valid.
 * Keys are non-empty, nothing starts with a reserved prefix, and sizes stay within CONTEXT_LIMITS.
 */
export function contextProblems(
  context: Record<string, unknown>,
  path = 'context',
): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const entries = Object.entries(context);
  if (entries.length > CONTEXT_LIMITS.maxPairs) {
    problems.push({ path, message: `at most ${CONTEXT_LIMITS.maxPairs} pairs` });
  }
  let total = 0;
  for (const [key, value] of entries) {
    const at = `${path}.${key}`;
    if (key === '__proto__') {
      problems.push({ path: at, message: 'the key __proto__ is not accepted' });
      continue;
    }
    if (typeof value !== 'string') {
      problems.push({ path: at, message: 'values must be strings' });
      continue;
    }
    if (!isWellFormedText(key) || !isWellFormedText(value)) {
      problems.push({
        path: at,
        message: 'keys and values must be well-formed Unicode (no lone surrogates)',
      });
    }
    if (key.length === 0 || key.length > CONTEXT_LIMITS.maxKeyLength) {
      problems.push({ path: at, message: `keys are 1 to ${CONTEXT_LIMITS.maxKeyLength} characters` });
    }
    if (value.length > CONTEXT_LIMITS.maxValueLength) {
      problems.push({ path: at, message: `values are at most ${CONTEXT_LIMITS.maxValueLength} characters` });
    }
    const lower = key.toLowerCase();
    if (RESERVED_CONTEXT_PREFIXES.some((p) => lower.startsWith(p))) {
      problems.push({
        path: at,
        message: `keys starting with ${RESERVED_CONTEXT_PREFIXES.join(', ')} are reserved`,
      });
    }
    total += Buffer.byteLength(key, 'utf8') + Buffer.byteLength(value, 'utf8');
  }
  if (total > CONTEXT_LIMITS.maxTotalBytes) {
    problems.push({
      path,
      message: `at most ${CONTEXT_LIMITS.maxTotalBytes} bytes of keys and values in all`,
    });
  }
  return problems;
}
