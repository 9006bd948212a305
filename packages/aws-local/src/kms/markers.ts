import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Opaque pagination markers, as KMS's are: the id of the last item a page returned, encrypted and
 * authenticated (AES-256-GCM) with the listing as AAD, under a key derived from the root key (so
 * markers survive a restart). A caller learns nothing from a marker (a service that filters a page
 * before passing its marker on does not leak the id of an item it left out), and a marker forged,
 * altered or made for another listing does not open.
 */
export class MarkerCodec {
  private readonly key: Buffer;

  constructor(rootKey: Buffer) {
    this.key = Buffer.from(hkdfSync('sha256', rootKey, Buffer.alloc(0), 'eaas local kms page markers', 32));
  }

  seal(listing: string, id: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(listing, 'utf8'));
    const body = Buffer.concat([cipher.update(id, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
  }

  /** The id a marker of this listing carries; undefined when it is not one. */
  open(listing: string, marker: string): string | undefined {
    const raw = Buffer.from(marker, 'base64url');
    if (raw.length < 12 + 1 + 16 || raw.toString('base64url') !== marker) return undefined;
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(listing, 'utf8'));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    try {
      return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString(
        'utf8',
      );
    } catch {
      return undefined;
    }
  }
}
