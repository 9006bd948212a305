import { randomBytes } from 'node:crypto';
import { canonicalContextBytes, contextsEqual } from '@eaas/aws-rules';
import { describe, expect, it } from 'vitest';
import { BLOB_OVERHEAD, openBlob, parseBlobHeader, sealBlob } from '../../src/kms/ciphertext-blob.js';

const KEY_ID = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
const material = randomBytes(32);

describe('canonical encryption context', () => {
  it('does not depend on the order the caller wrote the pairs in', () => {
    expect(canonicalContextBytes({ a: '1', b: '2' }).equals(canonicalContextBytes({ b: '2', a: '1' }))).toBe(
      true,
    );
    expect(contextsEqual({ a: '1' }, { a: '1' })).toBe(true);
  });

  it('tells apart contexts that a naive join would confuse', () => {
    expect(contextsEqual({ ab: 'c' }, { a: 'bc' })).toBe(false);
    expect(contextsEqual({ a: '' }, {})).toBe(false);
    expect(contextsEqual(undefined, {})).toBe(true);
  });
});

describe('local ciphertext blob', () => {
  it('round-trips and names its key and material version', () => {
    const blob = sealBlob(material, { keyId: KEY_ID, materialIndex: 3 }, Buffer.from('secret'), { t: 'x' });
    expect(blob.length).toBe(BLOB_OVERHEAD + 6);
    expect(parseBlobHeader(blob)).toEqual({ keyId: KEY_ID, materialIndex: 3 });
    expect(openBlob(material, blob, { t: 'x' })?.toString()).toBe('secret');
  });

  it('Precondition: the context matches exactly. Any other context opens nothing', () => {
    const blob = sealBlob(material, { keyId: KEY_ID, materialIndex: 0 }, Buffer.from('secret'), { t: 'x' });
    expect(openBlob(material, blob, { t: 'y' })).toBeUndefined();
    expect(openBlob(material, blob, undefined)).toBeUndefined();
  });

  it('Precondition: every byte is authenticated. A flip anywhere opens nothing', () => {
    const blob = sealBlob(material, { keyId: KEY_ID, materialIndex: 0 }, Buffer.from('secret'), undefined);
    for (let i = 0; i < blob.length; i++) {
      const bad = Buffer.from(blob);
      bad[i] = (bad[i] ?? 0) ^ 0x80;
      const header = parseBlobHeader(bad);
      if (header) expect(openBlob(material, bad, undefined), `byte ${i}`).toBeUndefined();
    }
  });

  it('rejects bytes that are not a blob of this format', () => {
    expect(parseBlobHeader(Buffer.alloc(10))).toBeUndefined();
    expect(parseBlobHeader(Buffer.alloc(BLOB_OVERHEAD + 1, 0x41))).toBeUndefined();
  });

  it('never produces the same blob twice for the same input (fresh IV)', () => {
    const a = sealBlob(material, { keyId: KEY_ID, materialIndex: 0 }, Buffer.from('same'), undefined);
    const b = sealBlob(material, { keyId: KEY_ID, materialIndex: 0 }, Buffer.from('same'), undefined);
    expect(a.equals(b)).toBe(false);
  });
});
