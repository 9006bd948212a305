import type { DownloadTicket, EaasApi } from './api.js';
import { ApiError } from './signed-api.js';
import { s3ErrorOf } from './transfer.js';

const fromBase64 = (b64: string): Uint8Array<ArrayBuffer> => {
  const binary = atob(b64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
};

const hex = (buffer: ArrayBuffer) =>
  Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');

/** The largest stored document the page decrypts: it holds ciphertext and plaintext in memory at once. */
export const MAX_BROWSER_DOWNLOAD = 512 * 1024 ** 2;

export interface OpenedDocument {
  /** The plaintext, released only after the GCM tag was checked. */
  blob: Blob;
  /** Hex SHA-256 of the plaintext, shown so a person (or a test) can compare it with the original. */
  sha256: string;
}

/**
 * Downloads a document: the API checks the caller may decrypt it and answers a presigned GET of the
 * ciphertext with the content key; the browser fetches the ciphertext from S3 and decrypts it with
 * WebCrypto's one-shot AES-256-GCM, which checks the tag before it releases any plaintext. The key
 * lives only inside a non-extractable CryptoKey for the length of the call.
 */
export async function openDocument(api: EaasApi, key: string): Promise<OpenedDocument> {
  const ticket = await api.download(key);
  /* Precondition: the page holds the ciphertext and the plaintext whole; past this it would exhaust the tab. */
  if (ticket.storedSize > MAX_BROWSER_DOWNLOAD) {
    throw new ApiError(
      'TooLargeForBrowser',
      `This document is too large to decrypt in a browser (over ${MAX_BROWSER_DOWNLOAD / 1024 ** 2} MiB). Download it with the eaas client (downloadDocument), which decrypts as it streams.`,
      0,
    );
  }
  const ciphertext = await fetchCiphertext(ticket);
  const plaintext = await decrypt(ticket, ciphertext);
  const sha256 = hex(await crypto.subtle.digest('SHA-256', plaintext));
  return { blob: new Blob([plaintext], { type: ticket.contentType || 'application/octet-stream' }), sha256 };
}

async function fetchCiphertext(ticket: DownloadTicket): Promise<ArrayBuffer> {
  let res: Response;
  try {
    res = await fetch(ticket.url, { credentials: 'omit', cache: 'no-store' });
  } catch (error) {
    throw new ApiError('Network', `The document could not be fetched: ${(error as Error).message}`, 0);
  }
  if (!res.ok) throw s3ErrorOf(res.status, await res.text());
  /* Precondition: the stored object is the version the content key was issued for. */
  // A missing ETag (a vault CORS rule that does not expose it) is refused too, as the client does.
  const etag = res.headers.get('ETag');
  if (etag !== ticket.etag) {
    throw new ApiError('Conflict', 'The document changed while it was being downloaded. Try again.', 409);
  }
  const body = await res.arrayBuffer();
  if (body.byteLength !== ticket.storedSize) {
    throw new ApiError('Integrity', 'The document arrived incomplete.', 0);
  }
  return body;
}

async function decrypt(ticket: DownloadTicket, ciphertext: ArrayBuffer): Promise<ArrayBuffer> {
  const { cipher } = ticket;
  /* Precondition: only the algorithm this page implements; anything else is refused, not guessed at. */
  if (cipher.algorithm !== 'AES-256-GCM' || cipher.tagLength !== 16) {
    throw new ApiError('Integrity', `Unsupported cipher ${cipher.algorithm}.`, 0);
  }
  const raw = fromBase64(cipher.key);
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['decrypt']);
  } finally {
    raw.fill(0);
  }
  const aad = fromBase64(cipher.aad);
  try {
    return await crypto.subtle.decrypt(
      {
        name: 'AES-GCM',
        iv: fromBase64(cipher.iv),
        tagLength: 128,
        ...(aad.length > 0 ? { additionalData: aad } : {}),
      },
      key,
      ciphertext,
    );
  } catch {
    throw new ApiError('Integrity', 'The authentication tag did not match.', 0);
  }
}

/** Hands a blob to the browser as a file download, then lets the object URL go. */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name.split('/').pop() || 'document';
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
