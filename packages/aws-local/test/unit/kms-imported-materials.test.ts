import { createCipheriv, createDecipheriv, type Decipher, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decipherAll } from '../../src/kms/decipher.js';
import { ImportedMaterials } from '../../src/kms/imported-materials.js';
import { type AddedMaterial, KeyMaterial } from '../../src/kms/key-material.js';
import type { KeyRecord } from '../../src/kms/records.js';

/** KeyMaterial that also remembers the plaintext copies it hands out. */
class Recording extends KeyMaterial {
  readonly handedOut: Buffer[] = [];

  override add(...args: Parameters<KeyMaterial['add']>): AddedMaterial {
    const added = super.add(...args);
    this.handedOut.push(added.plain);
    return added;
  }

  override restore(...args: Parameters<KeyMaterial['restore']>): AddedMaterial {
    const added = super.restore(...args);
    this.handedOut.push(added.plain);
    return added;
  }
}

function externalKey(): KeyRecord {
  return {
    keyId: '11111111-2222-4333-8444-555555555555',
    createdAt: 0,
    description: '',
    keyState: 'PendingImport',
    origin: 'EXTERNAL',
    policy: '{}',
    tags: [],
    rotation: { enabled: false, periodDays: 365 },
    materials: [],
  };
}

describe('ImportedMaterials.import when the record cannot be saved', () => {
  it('zeroes the plaintext copy it made, keeps nothing, and throws the save error', () => {
    const material = new Recording(randomBytes(32));
    const imported = new ImportedMaterials(
      material,
      (key, change) => {
        change(structuredClone(key));
        throw new Error('disk full');
      },
      () => new Date(),
    );
    const key = externalKey();
    const plain = randomBytes(32);
    expect(() =>
      imported.import(
        key,
        plain,
        { kind: 'first' },
        { id: 'a', expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' },
      ),
    ).toThrow('disk full');
    expect(material.handedOut).toHaveLength(1);
    expect(material.handedOut[0]?.equals(Buffer.alloc(32))).toBe(true);
    expect(() => material.of(key, 0)).toThrow();
  });
});

describe('decipherAll', () => {
  it("zeroes update's and final's outputs once copied, and update's when final fails (a tag that does not match)", () => {
    const outputs: Buffer[] = [];
    const out = (b: Buffer) => {
      outputs.push(b);
      return b;
    };
    const ok = { update: () => out(Buffer.from('secret ')), final: () => out(Buffer.from('key')) };
    expect(decipherAll(ok as unknown as Decipher, Buffer.alloc(0)).toString()).toBe('secret key');
    const failing = {
      update: () => out(Buffer.from('unauthenticated')),
      final: () => {
        throw new Error('Unsupported state or unable to authenticate data');
      },
    };
    expect(() => decipherAll(failing as unknown as Decipher, Buffer.alloc(0))).toThrow('authenticate');
    for (const b of outputs) expect(b.every((x) => x === 0)).toBe(true);
  });

  it('opens what a real AES-256-GCM cipher sealed', () => {
    const key = randomBytes(32);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const sealed = Buffer.concat([cipher.update('imported key material'), cipher.final()]);
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAuthTag(cipher.getAuthTag());
    expect(decipherAll(decipher, sealed).toString()).toBe('imported key material');
  });
});
