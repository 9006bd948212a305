import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { DomainError } from './errors.js';

/**
 * Page tokens: the `nextToken` of every listing. A token is the listing's cursor (where the next
 * page starts: a document name, a KMS marker) sealed with AES-256-GCM under a service secret, so
 * a caller can neither read it nor make one. The caller (its normalised principal ARN), the
 * listing (its operation) and the listing's parameters (prefix, key) are the cipher's additional
 * data: a token opens only for the caller and the listing it was issued for. It also carries its
 * expiry. Any token that does not open, for whatever reason, is `400 InvalidPageToken`.
 *
 * Layout (base64url, no padding): version byte 1, 16-byte salt, ciphertext, 16-byte tag. The key
 * and IV are HKDF-SHA256(secret, salt) per token, so no (key, IV) pair is ever used twice,
 * however many tokens a secret seals.
 */

export const PAGE_TOKEN_TTL_SECONDS = 24 * 60 * 60;
/** Longest token accepted: the routes' `nextToken` schema says the same. */
export const MAX_PAGE_TOKEN_LENGTH = 4096;
/** The shortest secret accepted, in bytes. */
export const MIN_PAGE_TOKEN_SECRET_BYTES = 32;

const VERSION = 1;
const SALT_BYTES = 16;
const TAG_BYTES = 16;
const INFO = Buffer.from('eaas page token v1', 'utf8');
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** What a token is bound to: it opens only for the same three. */
export interface PageBinding {
  /** The caller, normalised (an assumed-role session is its role). */
  principal: string;
  /** The listing, by operation id (`listObjects`, `listKeys`...). */
  listing: string;
  /** The parameters that choose what the listing holds (`prefix`, `keyId`); not `limit`. */
  params?: Readonly<Record<string, string>> | undefined;
}

/** A `nextToken` that this service did not issue for this caller and listing, or that expired. */
export class InvalidPageTokenError extends DomainError {
  constructor(expired = false) {
    super(
      'InvalidPageToken',
      expired
        ? `The nextToken has expired (tokens last ${PAGE_TOKEN_TTL_SECONDS / 3600} hours); list again from the first page, without it.`
        : "The nextToken is not one this listing gave you: pass the previous answer's nextToken unchanged, with the same parameters, or none to start from the first page.",
    );
  }
}

function additionalData(b: PageBinding): Buffer {
  const params = Object.entries(b.params ?? {}).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  return Buffer.from(JSON.stringify(['eaas-page-token', VERSION, b.principal, b.listing, params]), 'utf8');
}

export class PageTokens {
  private readonly secret: Buffer;
  private readonly ttlSeconds: number;
  private readonly now: () => Date;

  constructor(secret: Uint8Array, options: { ttlSeconds?: number; now?: () => Date } = {}) {
    // Precondition: a secret long enough for a 256-bit key.
    if (secret.byteLength < MIN_PAGE_TOKEN_SECRET_BYTES)
      throw new Error(`A page token secret is at least ${MIN_PAGE_TOKEN_SECRET_BYTES} bytes.`);
    this.secret = Buffer.from(secret);
    this.ttlSeconds = options.ttlSeconds ?? PAGE_TOKEN_TTL_SECONDS;
    this.now = options.now ?? (() => new Date());
  }

  private cipherParams(salt: Buffer): { key: Buffer; iv: Buffer } {
    const okm = Buffer.from(hkdfSync('sha256', this.secret, salt, INFO, 44));
    return { key: okm.subarray(0, 32), iv: okm.subarray(32, 44) };
  }

  /** The token of `cursor` (any JSON value) for this caller and listing. */
  seal(binding: PageBinding, cursor: unknown): string {
    const salt = randomBytes(SALT_BYTES);
    const { key, iv } = this.cipherParams(salt);
    const exp = Math.floor(this.now().getTime() / 1000) + this.ttlSeconds;
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(additionalData(binding));
    const body = Buffer.concat([
      cipher.update(JSON.stringify({ exp, cursor }), 'utf8'),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    key.fill(0);
    return Buffer.concat([Buffer.from([VERSION]), salt, body]).toString('base64url');
  }

  /**
   * The cursor a token holds, if this caller and listing were given it and it has not expired;
   * `InvalidPageTokenError` otherwise. The tag is checked by OpenSSL's GCM, in constant time.
   */
  open(binding: PageBinding, token: string): unknown {
    // Precondition: a bounded, canonical base64url string (another spelling of the same bytes is refused).
    if (token.length > MAX_PAGE_TOKEN_LENGTH || !BASE64URL.test(token)) throw new InvalidPageTokenError();
    const raw = Buffer.from(token, 'base64url');
    if (raw.toString('base64url') !== token || raw.length < 1 + SALT_BYTES + TAG_BYTES + 1)
      throw new InvalidPageTokenError();
    if (raw[0] !== VERSION) throw new InvalidPageTokenError();
    const salt = raw.subarray(1, 1 + SALT_BYTES);
    const sealed = raw.subarray(1 + SALT_BYTES, raw.length - TAG_BYTES);
    const tag = raw.subarray(raw.length - TAG_BYTES);
    const { key, iv } = this.cipherParams(salt);
    let text: string;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(additionalData(binding));
      decipher.setAuthTag(tag);
      text = Buffer.concat([decipher.update(sealed), decipher.final()]).toString('utf8');
    } catch {
      // Forged, tampered, another caller's, another listing's, or sealed under another secret.
      throw new InvalidPageTokenError();
    } finally {
      key.fill(0);
    }
    let payload: { exp?: unknown; cursor?: unknown };
    try {
      payload = JSON.parse(text) as { exp?: unknown; cursor?: unknown };
    } catch {
      throw new InvalidPageTokenError();
    }
    if (typeof payload?.exp !== 'number' || !('cursor' in payload)) throw new InvalidPageTokenError();
    // Precondition: the token has not expired.
    if (this.now().getTime() / 1000 > payload.exp) throw new InvalidPageTokenError(true);
    return payload.cursor;
  }
}
