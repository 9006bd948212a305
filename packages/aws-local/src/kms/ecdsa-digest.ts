import { createECDH, type KeyObject, randomBytes } from 'node:crypto';

/**
 * ECDSA over a digest the caller computed (KMS's MessageType DIGEST), FIPS 186-5 section 6.4:
 * `crypto.sign` always hashes its input, so the scheme is built here on node's elliptic-curve
 * scalar multiplication (`createECDH`) and arithmetic modulo the curve's order. Signatures are the
 * standard ones (DER ECDSA-Sig-Value), so they verify as RAW signatures of the message do, here
 * and with OpenSSL. The local KMS's keys are test keys: the bigint arithmetic is not constant-time.
 */

/** The curves of the ECC key specs, with their group order n (SEC 2 / FIPS 186-5, appendix D). */
const CURVES: Readonly<Record<string, { curve: string; order: bigint }>> = {
  prime256v1: {
    curve: 'prime256v1',
    order: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  },
  secp384r1: {
    curve: 'secp384r1',
    order:
      0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  },
  secp521r1: {
    curve: 'secp521r1',
    order:
      0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
  },
  secp256k1: {
    curve: 'secp256k1',
    order: 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n,
  },
};

// --- bigint helpers ---------------------------------------------------------------------------

const toBigInt = (bytes: Uint8Array): bigint =>
  bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`);

function toBytes(value: bigint, length: number): Buffer {
  const hex = value.toString(16).padStart(length * 2, '0');
  return Buffer.from(hex, 'hex');
}

const mod = (a: bigint, n: bigint): bigint => ((a % n) + n) % n;

/** a^-1 mod n for prime n (Fermat). */
function invert(a: bigint, n: bigint): bigint {
  let result = 1n;
  let base = mod(a, n);
  let e = n - 2n;
  while (e > 0n) {
    if (e & 1n) result = (result * base) % n;
    base = (base * base) % n;
    e >>= 1n;
  }
  return result;
}

const bitLength = (n: bigint): number => n.toString(2).length;

// --- ECDSA over a digest ----------------------------------------------------------------------

interface EcKey {
  curve: string;
  order: bigint;
  d: bigint;
}

function ecKeyOf(privateKey: KeyObject): EcKey {
  const named = privateKey.asymmetricKeyDetails?.namedCurve ?? '';
  const info = CURVES[named];
  if (!info) throw new Error(`unsupported curve ${named}`);
  const jwk = privateKey.export({ format: 'jwk' });
  return { curve: info.curve, order: info.order, d: toBigInt(Buffer.from(jwk.d ?? '', 'base64url')) };
}

/** The x coordinate of k·G, by node's scalar multiplication (an ECDH key pair with private key k). */
function baseMultipleX(curve: string, order: bigint, k: bigint): bigint {
  const size = Math.ceil(bitLength(order) / 8);
  const ecdh = createECDH(curve);
  ecdh.setPrivateKey(toBytes(k, size));
  const point = ecdh.getPublicKey(); // 0x04 | X | Y
  return toBigInt(point.subarray(1, 1 + (point.length - 1) / 2));
}

/** The digest as an integer, truncated to the bit length of n (FIPS 186-5, 6.4.1 step 4). */
function digestInteger(digest: Uint8Array, order: bigint): bigint {
  const z = toBigInt(digest);
  const excess = digest.length * 8 - bitLength(order);
  return excess > 0 ? z >> BigInt(excess) : z;
}

function derLength(length: number): Buffer {
  return length < 0x80 ? Buffer.from([length]) : Buffer.from([0x81, length]);
}

function derInteger(value: bigint): Buffer {
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let bytes = Buffer.from(hex, 'hex');
  if ((bytes[0] ?? 0) & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return Buffer.concat([Buffer.from([0x02]), derLength(bytes.length), bytes]);
}

/** ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 3279), as KMS returns signatures. */
function encodeEcdsaSignature(r: bigint, s: bigint): Buffer {
  const body = Buffer.concat([derInteger(r), derInteger(s)]);
  return Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
}

/** Reads a DER ECDSA-Sig-Value strictly (minimal lengths and integers, nothing after); undefined if malformed. */
function decodeEcdsaSignature(sig: Uint8Array): { r: bigint; s: bigint } | undefined {
  let at = 0;
  const readLength = (): number | undefined => {
    const first = sig[at++];
    if (first === undefined) return undefined;
    if (first < 0x80) return first;
    if (first !== 0x81) return undefined;
    const long = sig[at++];
    return long !== undefined && long >= 0x80 ? long : undefined;
  };
  const readInteger = (): bigint | undefined => {
    if (sig[at++] !== 0x02) return undefined;
    const length = readLength();
    if (length === undefined || length === 0 || at + length > sig.length) return undefined;
    const bytes = sig.subarray(at, at + length);
    at += length;
    const first = bytes[0] ?? 0;
    if (first & 0x80) return undefined; // negative
    if (first === 0 && length > 1 && !((bytes[1] ?? 0) & 0x80)) return undefined; // not minimal
    return toBigInt(bytes);
  };
  if (sig[at++] !== 0x30) return undefined;
  const total = readLength();
  if (total === undefined || at + total !== sig.length) return undefined;
  const r = readInteger();
  const s = readInteger();
  if (r === undefined || s === undefined || at !== sig.length) return undefined;
  return { r, s };
}

export function ecdsaSignDigest(privateKey: KeyObject, digest: Uint8Array): Buffer {
  const { curve, order, d } = ecKeyOf(privateKey);
  const z = digestInteger(digest, order);
  const size = Math.ceil(bitLength(order) / 8);
  for (;;) {
    // A per-message secret k from the CSPRNG, uniform in [1, n-1] by rejection (FIPS 186-5, A.3.2).
    const k = toBigInt(randomBytes(size)) >> BigInt(size * 8 - bitLength(order));
    if (k === 0n || k >= order) continue;
    const r = mod(baseMultipleX(curve, order, k), order);
    if (r === 0n) continue;
    const s = mod(invert(k, order) * (z + r * d), order);
    if (s === 0n) continue;
    return encodeEcdsaSignature(r, s);
  }
}

/**
 * ECDSA verification over a digest (FIPS 186-5, 6.4.2). R = u1·G + u2·Q; the KMS holds the
 * private key d (Q = d·G), so R = (u1 + u2·d)·G, one scalar multiplication node can do.
 */
export function ecdsaVerifyDigest(privateKey: KeyObject, digest: Uint8Array, signature: Uint8Array): boolean {
  const decoded = decodeEcdsaSignature(signature);
  if (!decoded) return false;
  const { r, s } = decoded;
  const { curve, order, d } = ecKeyOf(privateKey);
  if (r <= 0n || r >= order || s <= 0n || s >= order) return false;
  const w = invert(s, order);
  const z = digestInteger(digest, order);
  const t = mod(z * w + r * w * d, order);
  if (t === 0n) return false; // R would be the point at infinity
  return mod(baseMultipleX(curve, order, t), order) === r;
}
