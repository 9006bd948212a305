import { S3Error } from './errors.js';

/**
 * Object keys as S3 treats them: any UTF-8 string of 1 to 1,024 bytes, compared and listed in
 * the binary order of their UTF-8 bytes (not JavaScript's UTF-16 order, which differs above
 * U+FFFF). Keys never become file names here; the store hashes them.
 */

export const MAX_KEY_BYTES = 1024;

/** Precondition: a key S3 would accept. */
export function checkKey(key: string): void {
  if (key === '') throw new S3Error('InvalidArgument', 'An object key must not be empty.');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES)
    throw new S3Error('KeyTooLongError', 'Your key is too long', { Size: String(Buffer.byteLength(key)) });
}

/** Decodes a percent-encoded path segment; malformed escapes or invalid UTF-8 are S3's InvalidURI. */
export function decodePathPart(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new S3Error('InvalidURI', "Couldn't parse the specified URI.", { URI: raw });
  }
}

/** The first key after every key starting with `prefix`, as bytes; undefined when none can follow. */
export function prefixSuccessor(prefix: Buffer): Buffer | undefined {
  let end = prefix.length;
  while (end > 0 && prefix[end - 1] === 0xff) end--;
  if (end === 0) return undefined;
  const next = Buffer.from(prefix.subarray(0, end));
  next[end - 1] = (next[end - 1] ?? 0) + 1;
  return next;
}

const FORM_SAFE = /[A-Za-z0-9._*/-]/;

/**
 * The form encoding S3 applies to keys in event notifications and `encoding-type=url` listings:
 * UTF-8 percent-encoding, a space as `+`, and `/` kept (so `a b/(1).txt` is `a+b/%281%29.txt`).
 * Decoding it takes `decodeURIComponent` after `+` → space, which is what the CLI does.
 */
export function formEncode(key: string): string {
  let out = '';
  for (const ch of key) {
    if (ch === ' ') out += '+';
    else if (FORM_SAFE.test(ch)) out += ch;
    else
      for (const byte of Buffer.from(ch, 'utf8'))
        out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
