import { createHash, type Hash } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * The additional checksums S3 accepts (`x-amz-checksum-<algorithm>`, as a header or an
 * aws-chunked trailer), computed while a body streams. Values are base64 of the big-endian
 * digest, as S3 writes them.
 */

export const CHECKSUM_ALGORITHMS = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

export interface Checksum {
  update(data: Buffer): void;
  /** Base64 of the digest; call once. */
  digest(): string;
}

export function isChecksumAlgorithm(name: string): name is ChecksumAlgorithm {
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(name);
}

/** Byte length of each digest, to check a declared value's shape before the body arrives. */
export const DIGEST_BYTES: Readonly<Record<ChecksumAlgorithm, number>> = {
  crc32: 4,
  crc32c: 4,
  crc64nvme: 8,
  sha1: 20,
  sha256: 32,
};

function uint32Base64(value: number): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value >>> 0);
  return out.toString('base64');
}

/** Table of a reflected 32-bit CRC (CRC-32C: polynomial 0x82F63B78). */
function table32(poly: number): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

let crc32cTable: Uint32Array | undefined;

function crc32c(): Checksum {
  crc32cTable ??= table32(0x82f63b78);
  const table = crc32cTable;
  let crc = 0xffffffff;
  return {
    update(data) {
      let c = crc;
      for (let i = 0; i < data.length; i++)
        c = (table[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
      crc = c;
    },
    digest: () => uint32Base64(crc ^ 0xffffffff),
  };
}

let crc64Tables: { lo: Uint32Array; hi: Uint32Array } | undefined;

/** CRC-64/NVME (reflected polynomial 0x9A6C9329AC4BC9B5), on two 32-bit halves to stay fast without BigInt. */
function crc64nvme(): Checksum {
  if (!crc64Tables) {
    const lo = new Uint32Array(256);
    const hi = new Uint32Array(256);
    const polyLo = 0xac4bc9b5;
    const polyHi = 0x9a6c9329;
    for (let n = 0; n < 256; n++) {
      let l = n;
      let h = 0;
      for (let k = 0; k < 8; k++) {
        const carry = l & 1;
        l = ((l >>> 1) | ((h & 1) << 31)) >>> 0;
        h = h >>> 1;
        if (carry) {
          l = (l ^ polyLo) >>> 0;
          h = (h ^ polyHi) >>> 0;
        }
      }
      lo[n] = l;
      hi[n] = h;
    }
    crc64Tables = { lo, hi };
  }
  const { lo: tLo, hi: tHi } = crc64Tables;
  let lo = 0xffffffff;
  let hi = 0xffffffff;
  return {
    update(data) {
      let l = lo;
      let h = hi;
      for (let i = 0; i < data.length; i++) {
        const idx = (l ^ (data[i] as number)) & 0xff;
        l = (((l >>> 8) | (h << 24)) ^ (tLo[idx] as number)) >>> 0;
        h = ((h >>> 8) ^ (tHi[idx] as number)) >>> 0;
      }
      lo = l;
      hi = h;
    },
    digest() {
      const out = Buffer.alloc(8);
      out.writeUInt32BE((hi ^ 0xffffffff) >>> 0, 0);
      out.writeUInt32BE((lo ^ 0xffffffff) >>> 0, 4);
      return out.toString('base64');
    },
  };
}

function hashChecksum(hash: Hash): Checksum {
  return { update: (data) => hash.update(data), digest: () => hash.digest('base64') };
}

export function newChecksum(algorithm: ChecksumAlgorithm): Checksum {
  switch (algorithm) {
    case 'crc32': {
      let value = 0;
      return {
        update(data) {
          value = crc32(data, value);
        },
        digest: () => uint32Base64(value),
      };
    }
    case 'crc32c':
      return crc32c();
    case 'crc64nvme':
      return crc64nvme();
    case 'sha1':
      return hashChecksum(createHash('sha1'));
    case 'sha256':
      return hashChecksum(createHash('sha256'));
  }
}

/** Whether a declared value is the base64 of a digest of the algorithm's size. */
export function wellFormedChecksum(algorithm: ChecksumAlgorithm, value: string): boolean {
  return (
    /^[A-Za-z0-9+/]+={0,2}$/.test(value) && Buffer.from(value, 'base64').length === DIGEST_BYTES[algorithm]
  );
}
