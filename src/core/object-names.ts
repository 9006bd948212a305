import { INSTRUCTION_SUFFIX } from './envelope/metadata.js';
import { ValidationError } from './errors.js';
import { RESERVED_PREFIXES, reservedPrefixOf } from './reserved-keys.js';

/**
 * The names of documents in the vault: which keys a caller may use, and which fit in S3 once the
 * store's prefix is put in front (S3 bounds the whole key, in UTF-8 bytes).
 */

/** S3's longest key, in UTF-8 bytes, the store's prefix included. */
export const S3_KEY_LIMIT_BYTES = 1024;

/** The instruction file of the object `key`. */
export const instructionKeyOf = (key: string): string => `${key}${INSTRUCTION_SUFFIX}`;

/** Whether a key holds a control character (U+0000-U+001F, U+007F). */
const hasControl = (key: string): boolean => {
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
};

/** Precondition of every object route: a key S3 stores and this service may own. */
export function checkObjectKey(key: string): void {
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes === 0 || bytes > 1024) throw new ValidationError('An object key is 1 to 1024 bytes of UTF-8.');
  if (hasControl(key)) throw new ValidationError('An object key may not contain control characters.');
  if (key.endsWith(INSTRUCTION_SUFFIX))
    throw new ValidationError(
      `Object keys ending in ${INSTRUCTION_SUFFIX} are reserved for instruction files.`,
    );
  if (/(?:^|\/)\.\.?(?:\/|$)/.test(key))
    throw new ValidationError('An object key may not contain . or .. segments.');
  // The service keeps its own records under these prefixes at the root of the vault.
  const reserved = reservedPrefixOf(key);
  if (reserved !== undefined)
    throw new ValidationError(
      `Object keys starting with ${reserved} are reserved for ${RESERVED_PREFIXES[reserved]}.`,
    );
}

/** Whether `key` is an S3 key once `prefix` (the store's) is put in front. */
export function fitsS3(prefix: string, key: string): boolean {
  return Buffer.byteLength(`${prefix}${key}`, 'utf8') <= S3_KEY_LIMIT_BYTES;
}

/**
 * Precondition of every write (PUT, and uploads when they start and when they seal): a name that
 * can take its instruction file too behind the store's `prefix`, so that no header ever fails to
 * find a place after the object was written.
 */
export function checkNewObjectKey(key: string, prefix: string): void {
  checkObjectKey(key);
  if (!fitsS3(prefix, instructionKeyOf(key))) {
    const most =
      S3_KEY_LIMIT_BYTES - Buffer.byteLength(prefix, 'utf8') - Buffer.byteLength(INSTRUCTION_SUFFIX, 'utf8');
    throw new ValidationError(
      `An object key is at most ${most} bytes of UTF-8 here: S3 keys are at most ${S3_KEY_LIMIT_BYTES} bytes, and the key must leave room for the store's prefix and for ${INSTRUCTION_SUFFIX}.`,
      [{ path: 'key', message: `at most ${most} bytes` }],
    );
  }
}
