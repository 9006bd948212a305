import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-file.js';
import { decipherAll } from './decipher.js';
import { KmsError } from './errors.js';
import { type KeyRecord, type MaterialRecord, specOf } from './records.js';

/**
 * Key material: per version, bytes from a CSPRNG (32 for a symmetric key, the hash's length for an
 * HMAC key) or a PKCS#8 DER private key (`key-specs.ts`), or material the caller imported; held in
 * memory only in plaintext, and kept in the key's record wrapped under the local root key
 * (AES-256-GCM, the key id and version as AAD).
 */

/** A new material version, not yet cached: see `KeyMaterial.add`. */
export interface AddedMaterial {
  index: number;
  plain: Buffer;
}

/** The root key: `root.key` in the data dir, created (mode 0600) on first start. */
export function loadOrCreateRootKey(dataDir: string): Buffer {
  const file = join(dataDir, 'root.key');
  if (existsSync(file)) {
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new Error(`${file} does not hold a base64 32-byte key`);
    return key;
  }
  const key = randomBytes(32);
  writeFileAtomic(file, `${key.toString('base64')}\n`, 0o600);
  return key;
}

export class KeyMaterial {
  private readonly plain = new Map<string, Buffer>();
  /** Keys the identifiers of imported material (`importedId`), derived from the root key. */
  private readonly idKey: Buffer;

  constructor(private readonly rootKey: Buffer) {
    this.idKey = Buffer.from(
      hkdfSync('sha256', rootKey, Buffer.alloc(0), 'eaas local kms imported key material ids', 32),
    );
  }

  private seal(aad: string, material: Buffer): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.rootKey, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const body = Buffer.concat([cipher.update(material), cipher.final()]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64');
  }

  private open(aad: string, wrapped: string): Buffer {
    const raw = Buffer.from(wrapped, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.rootKey, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    try {
      return decipherAll(decipher, raw.subarray(12, raw.length - 16));
    } catch (cause) {
      throw new Error(`key material ${aad} cannot be unwrapped: the root key does not match this key store`, {
        cause,
      });
    }
  }

  private wrap(keyId: string, index: number, material: Buffer): string {
    return this.seal(`${keyId}/${index}`, material);
  }

  /**
   * The identifier of imported material: KMS derives it "based on the KMS key ID and the imported
   * key material" (https://docs.aws.amazon.com/kms/latest/APIReference/API_ImportKeyMaterial.html),
   * so reimporting the same material gives the same id. Here an HMAC-SHA256 under a key derived
   * from the root key: it tells same material from different without the material being kept in
   * clear, and says nothing about the material to whoever lacks the root key.
   */
  importedId(keyId: string, material: Buffer): string {
    return createHmac('sha256', this.idKey).update(`${keyId}\0`, 'utf8').update(material).digest('hex');
  }

  /** The plaintext material of one version of a key; throws when that version does not exist. */
  of(key: KeyRecord, index: number): Buffer {
    const cacheKey = `${key.keyId}/${index}`;
    const cached = this.plain.get(cacheKey);
    if (cached) return cached;
    const stored = key.materials[index];
    // Absent, or imported material since deleted or expired (its key is then PendingImport).
    if (stored?.wrapped === undefined) throw new KmsError('InvalidCiphertextException', '');
    const plain = this.open(cacheKey, stored.wrapped);
    this.plain.set(cacheKey, plain);
    return plain;
  }

  /**
   * Unwraps every version of the key whose material has not expired at `now` (a root key that does
   * not match throws): expired material is not unwrapped nor cached, the store deletes it at start.
   */
  check(key: KeyRecord, now: number): void {
    const live = (m: { wrapped?: string | undefined; validTo?: number | undefined }) =>
      m.wrapped !== undefined && (m.validTo === undefined || m.validTo > now);
    for (let i = 0; i < key.materials.length; i++)
      if (live(key.materials[i] as MaterialRecord)) this.of(key, i);
    for (const p of key.pendingMaterials ?? []) if (live(p)) this.openPending(key.keyId, p).fill(0);
  }

  /**
   * Adds a material version to the record (wrapped) and returns its plaintext, which the caller
   * caches (`keep`) once the record is saved, so that a failed save leaves no material behind.
   * `given` is material imported or made for the key (`KeySpecInfo.generate`: the record keeps a
   * copy, the caller's buffer may then be zeroed); without it, new symmetric material is made.
   */
  add(
    key: KeyRecord,
    createdAt: number,
    rotationType?: 'AUTOMATIC' | 'ON_DEMAND',
    given?: Buffer,
  ): AddedMaterial {
    const index = key.materials.length;
    if (!given && specOf(key).keySpec !== 'SYMMETRIC_DEFAULT')
      throw new Error(`new material of ${specOf(key).keySpec} keys is made before it is added`);
    const plain = given ? Buffer.from(given) : randomBytes(32);
    const id = createHash('sha256').update(`${key.keyId}/${index}/`).update(randomBytes(16)).digest('hex');
    key.materials.push({
      id,
      createdAt,
      wrapped: this.wrap(key.keyId, index, plain),
      ...(rotationType ? { rotationType } : {}),
    });
    return { index, plain };
  }

  /**
   * Puts reimported material back at its version (deleted or expired, or to change its expiration):
   * the version's index, and so every ciphertext that names it, stays what it was.
   */
  restore(key: KeyRecord, index: number, given: Buffer): AddedMaterial {
    const stored = key.materials[index];
    if (!stored) throw new Error(`key ${key.keyId} has no material version ${index}`);
    const plain = Buffer.from(given);
    stored.wrapped = this.wrap(key.keyId, index, plain);
    return { index, plain };
  }

  /** Zeroes and drops the cached plaintext of one version (imported material deleted or expired). */
  drop(keyId: string, index: number): void {
    const cacheKey = `${keyId}/${index}`;
    this.plain.get(cacheKey)?.fill(0);
    this.plain.delete(cacheKey);
  }

  /** Wraps imported material pending rotation (not a version yet: bound to its id, not an index). */
  wrapPending(keyId: string, id: string, material: Buffer): string {
    return this.seal(`${keyId}/pending/${id}`, material);
  }

  /** The plaintext of material pending rotation; the caller zeroes it. */
  openPending(keyId: string, pending: { id: string; wrapped?: string | undefined }): Buffer {
    if (pending.wrapped === undefined) throw new Error(`pending material ${pending.id} has been deleted`);
    return this.open(`${keyId}/pending/${pending.id}`, pending.wrapped);
  }

  /** Zeroes new material whose record was not saved (`add`, `restore`): it is not kept. */
  discard(added: readonly AddedMaterial[]): void {
    for (const { plain } of added) plain.fill(0);
  }

  keep(keyId: string, added: readonly AddedMaterial[]): void {
    for (const { index, plain } of added) this.plain.set(`${keyId}/${index}`, plain);
  }

  /** Zeroes and drops the plaintext of every version of a deleted key. */
  forget(key: KeyRecord): void {
    for (let i = 0; i < key.materials.length; i++) {
      const cacheKey = `${key.keyId}/${i}`;
      this.plain.get(cacheKey)?.fill(0);
      this.plain.delete(cacheKey);
    }
  }
}
