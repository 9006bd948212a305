import { ValidationError } from './errors.js';

/**
 * The media type of a stored document, as the caller gave it: checked once here for every route
 * that stores one (PUT /v1/objects, POST /v1/uploads) and again before it is served back, so that
 * no header is ever answered from a value this rule refuses.
 */

/** RFC 9110 token characters. */
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
/** RFC 9110 quoted-string, printable ASCII without `"` and `\` (no quoted pairs). */
const QUOTED = '"[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]*"';
/**
 * `type "/" subtype *( OWS ";" OWS parameter )` (RFC 9110 section 8.3.1), OWS being spaces and
 * tabs only: never a line break, which would split a header.
 */
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|${QUOTED}))*$`);

export const MAX_MEDIA_TYPE_LENGTH = 256;
export const DEFAULT_MEDIA_TYPE = 'application/octet-stream';

/** Whether `text` is a media type this service stores and serves. */
export function isMediaType(text: string): boolean {
  return text.length > 0 && text.length <= MAX_MEDIA_TYPE_LENGTH && MEDIA_TYPE.test(text);
}

/** Precondition of every write of a document: its media type, when given, is one. */
export function checkMediaType(value: string | undefined, name: string): void {
  if (value !== undefined && !isMediaType(value))
    throw new ValidationError(
      `${name} is a media type such as application/pdf or text/plain; charset=utf-8 (printable ASCII, at most ${MAX_MEDIA_TYPE_LENGTH} characters).`,
      [{ path: name, message: 'not a media type' }],
    );
}

/** The media type to answer for a stored one: the stored value when it passes, else the default. */
export function servedMediaType(stored: string | undefined): string {
  return stored !== undefined && isMediaType(stored) ? stored : DEFAULT_MEDIA_TYPE;
}

/** RFC 8187 ext-value characters that need no percent-encoding (attr-char). */
const ATTR_CHAR = /[A-Za-z0-9!#$&+.^_`|~-]/;

/**
 * `attachment`, with the key's last segment as the file name (RFC 6266, RFC 8187 encoding): a
 * browser saves a document rather than render it in the API's origin, whatever its media type.
 */
export function attachmentOf(key: string): string {
  const name = key.slice(key.lastIndexOf('/') + 1);
  let encoded = '';
  for (const byte of Buffer.from(name, 'utf8')) {
    const c = String.fromCharCode(byte);
    encoded += byte < 0x80 && ATTR_CHAR.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return encoded === '' ? 'attachment' : `attachment; filename*=UTF-8''${encoded}`;
}
