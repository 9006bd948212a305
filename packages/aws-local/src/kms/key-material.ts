import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-file.js';
import { KmsError } from './errors.js';
import { specInfo } from './key-specs.js';
import { type KeyRecord, specOf } from './records.js';

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

  constructor(private readonly rootKey: Buffer) {}

  private wrap(keyId: string, index: number, material: Buffer): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.rootKey, iv);
    cipher.setAAD(Buffer.from(`${keyId}/${index}`, 'utf8'));
    const body = Buffer.concat([cipher.update(material), cipher.final()]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64');
  }

  /** The plaintext material of one version of a key; throws when that version does not exist. */
  of(key: KeyRecord, index: number): Buffer {
    const cacheKey = `${key.keyId}/${index}`;
    const cached = this.plain.get(cacheKey);
    if (cached) return cached;
    const stored = key.materials[index];
    if (!stored) throw new KmsError('InvalidCiphertextException', '');
    const raw = Buffer.from(stored.wrapped, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.rootKey, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(cacheKey, 'utf8'));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]);
    } catch (cause) {
      throw new Error(
        `key material ${cacheKey} cannot be unwrapped: the root key does not match this key store`,
        { cause },
      );
    }
    this.plain.set(cacheKey, plain);
    return plain;
  }

  /** Unwraps every version of the key: a root key that does not match throws. */
  check(key: KeyRecord): void {
    for (let i = 0; i < key.materials.length; i++) this.of(key, i);
  }

  /**
   * Adds a material version to the record (wrapped) and returns its plaintext, which the caller
   * caches (`keep`) once the record is saved, so that a failed save leaves no material behind.
   * `given` is imported material (the record keeps it, the caller's buffer may then be zeroed);
   * without it, new material of the key's spec is made.
   */
  add(
    key: KeyRecord,
    createdAt: number,
    rotationType?: 'AUTOMATIC' | 'ON_DEMAND',
    given?: Buffer,
  ): AddedMaterial {
    const index = key.materials.length;
    const plain = given ? Buffer.from(given) : specInfo(specOf(key).keySpec).generate();
    const id = createHash('sha256').update(`${key.keyId}/${index}/`).update(randomBytes(16)).digest('hex');
    key.materials.push({
      id,
      createdAt,
      wrapped: this.wrap(key.keyId, index, plain),
      ...(rotationType ? { rotationType } : {}),
    });
    return { index, plain };
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
