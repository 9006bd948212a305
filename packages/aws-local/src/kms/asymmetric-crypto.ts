import {
  constants,
  createECDH,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  privateDecrypt,
  privateEncrypt,
  publicDecrypt,
  publicEncrypt,
  randomBytes,
  sign,
  timingSafeEqual,
  verify,
} from 'node:crypto';

/**
 * The asymmetric primitives of the local KMS, all from `node:crypto`: RSASSA-PSS and
 * RSASSA-PKCS1-v1_5 signatures, ECDSA, RSAES-OAEP, and data key pairs.
 *
 * KMS signs either a message (MessageType RAW: KMS hashes it) or a digest the caller computed
 * (DIGEST). `crypto.sign` always hashes its input, so the DIGEST paths use lower-level node
 * primitives: RSA with the encoded message built here (PKCS #1 v1.5 DigestInfo, or EMSA-PSS of
 * RFC 8017 section 9.1) and the raw RSA operation (`privateEncrypt`/`publicDecrypt`), and ECDSA
 * (FIPS 186-5 section 6.4) with node's elliptic-curve scalar multiplication (`createECDH`) and
 * arithmetic modulo the curve's order. Either way the signature is the one the standard defines,
 * so a DIGEST signature verifies as a RAW one of the same message, here and with OpenSSL.
 */

export type HashName = 'sha1' | 'sha256' | 'sha384' | 'sha512';

const HASH_LENGTH: Record<HashName, number> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

/** DigestInfo prefixes of EMSA-PKCS1-v1_5 (RFC 8017 section 9.2, note 1). */
const DIGEST_INFO: Record<string, Buffer> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

export interface SigningAlgorithmInfo {
  scheme: 'pss' | 'pkcs1' | 'ecdsa';
  hash: 'sha256' | 'sha384' | 'sha512';
}

/**
 * The signing algorithms of the key specs the local KMS makes. "Signing algorithms that end in
 * SHA_256 use the SHA_256 hashing algorithm" (and so on); PSS uses MGF1 with the same hash and a
 * salt as long as the digest: https://docs.aws.amazon.com/kms/latest/developerguide/rsa-key-specs.html
 */
export const SIGNING_ALGORITHMS: Readonly<Record<string, SigningAlgorithmInfo>> = Object.freeze({
  RSASSA_PSS_SHA_256: { scheme: 'pss', hash: 'sha256' },
  RSASSA_PSS_SHA_384: { scheme: 'pss', hash: 'sha384' },
  RSASSA_PSS_SHA_512: { scheme: 'pss', hash: 'sha512' },
  RSASSA_PKCS1_V1_5_SHA_256: { scheme: 'pkcs1', hash: 'sha256' },
  RSASSA_PKCS1_V1_5_SHA_384: { scheme: 'pkcs1', hash: 'sha384' },
  RSASSA_PKCS1_V1_5_SHA_512: { scheme: 'pkcs1', hash: 'sha512' },
  ECDSA_SHA_256: { scheme: 'ecdsa', hash: 'sha256' },
  ECDSA_SHA_384: { scheme: 'ecdsa', hash: 'sha384' },
  ECDSA_SHA_512: { scheme: 'ecdsa', hash: 'sha512' },
});

export const digestLength = (hash: HashName): number => HASH_LENGTH[hash];

/** The OAEP hash of each RSA encryption algorithm (MGF1 uses the same hash). */
export const OAEP_HASH: Readonly<Record<string, HashName>> = Object.freeze({
  RSAES_OAEP_SHA_1: 'sha1',
  RSAES_OAEP_SHA_256: 'sha256',
});

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

/** The private key of a key material version (PKCS #8 DER). */
export function privateKeyOf(material: Buffer): KeyObject {
  return createPrivateKey({ key: material, format: 'der', type: 'pkcs8' });
}

/** The public key as DER SubjectPublicKeyInfo (RFC 5280), as GetPublicKey answers it. */
export function publicKeyDer(privateKey: KeyObject): Buffer {
  return createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
}

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

function ecdsaSignDigest(privateKey: KeyObject, digest: Uint8Array): Buffer {
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
function ecdsaVerifyDigest(privateKey: KeyObject, digest: Uint8Array, signature: Uint8Array): boolean {
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

// --- RSA over a digest ------------------------------------------------------------------------

function modulusBits(key: KeyObject): number {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (!bits) throw new Error('not an RSA key');
  return bits;
}

/** MGF1 of RFC 8017, appendix B.2.1. */
function mgf1(seed: Uint8Array, length: number, hash: HashName): Buffer {
  const out: Buffer[] = [];
  const counter = Buffer.alloc(4);
  for (let i = 0, made = 0; made < length; i++) {
    counter.writeUInt32BE(i);
    const block = createHash(hash).update(seed).update(counter).digest();
    out.push(block);
    made += block.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

/** EMSA-PSS-ENCODE (RFC 8017, 9.1.1) of a digest, with a salt as long as the digest. */
function pssEncode(mHash: Uint8Array, emBits: number, hash: HashName): Buffer {
  const hLen = HASH_LENGTH[hash];
  const sLen = hLen;
  const emLen = Math.ceil(emBits / 8);
  const salt = randomBytes(sLen);
  const h = createHash(hash).update(Buffer.alloc(8)).update(mHash).update(salt).digest();
  const db = Buffer.alloc(emLen - hLen - 1);
  db[emLen - sLen - hLen - 2] = 0x01;
  salt.copy(db, emLen - sLen - hLen - 1);
  const mask = mgf1(h, db.length, hash);
  for (let i = 0; i < db.length; i++) db[i] = (db[i] ?? 0) ^ (mask[i] ?? 0);
  db[0] = (db[0] ?? 0) & (0xff >> (8 * emLen - emBits));
  return Buffer.concat([db, h, Buffer.from([0xbc])]);
}

/** EMSA-PSS-VERIFY (RFC 8017, 9.1.2) with the salt length equal to the digest length. */
function pssVerify(mHash: Uint8Array, em: Buffer, emBits: number, hash: HashName): boolean {
  const hLen = HASH_LENGTH[hash];
  const sLen = hLen;
  const emLen = Math.ceil(emBits / 8);
  if (em.length !== emLen || emLen < hLen + sLen + 2 || em[emLen - 1] !== 0xbc) return false;
  const topMask = 0xff >> (8 * emLen - emBits);
  const maskedDb = em.subarray(0, emLen - hLen - 1);
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  if (((maskedDb[0] ?? 0) & ~topMask) !== 0) return false;
  const mask = mgf1(h, maskedDb.length, hash);
  const db = Buffer.alloc(maskedDb.length);
  for (let i = 0; i < db.length; i++) db[i] = (maskedDb[i] ?? 0) ^ (mask[i] ?? 0);
  db[0] = (db[0] ?? 0) & topMask;
  const separator = emLen - hLen - sLen - 2;
  for (let i = 0; i < separator; i++) if (db[i] !== 0) return false;
  if (db[separator] !== 0x01) return false;
  const salt = db.subarray(db.length - sLen);
  const expected = createHash(hash).update(Buffer.alloc(8)).update(mHash).update(salt).digest();
  return timingSafeEqual(expected, h);
}

/** RSA signature primitive with the key's own modulus, over an encoded message of its length. */
function rsaSignEncoded(privateKey: KeyObject, encoded: Buffer, padding: number): Buffer {
  return privateEncrypt({ key: privateKey, padding }, encoded);
}

// --- sign and verify --------------------------------------------------------------------------

/**
 * Signs a message (`digest` false: hashed here) or a digest. The signature is what the algorithm's
 * standard defines; ECDSA signatures are DER-encoded, as KMS returns them.
 */
export function signMessage(
  privateKey: KeyObject,
  algorithm: SigningAlgorithmInfo,
  message: Uint8Array,
  isDigest: boolean,
): Buffer {
  const { scheme, hash } = algorithm;
  if (!isDigest) {
    if (scheme === 'pss') {
      return sign(hash, message, {
        key: privateKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: HASH_LENGTH[hash],
      });
    }
    return sign(hash, message, privateKey);
  }
  if (scheme === 'ecdsa') return ecdsaSignDigest(privateKey, message);
  if (scheme === 'pkcs1') {
    const prefix = DIGEST_INFO[hash] as Buffer;
    return rsaSignEncoded(privateKey, Buffer.concat([prefix, message]), constants.RSA_PKCS1_PADDING);
  }
  const bits = modulusBits(privateKey);
  let em = pssEncode(message, bits - 1, hash);
  // The encoded message is emBits = modBits - 1 bits; pad to the modulus length when it is shorter.
  if (em.length < Math.ceil(bits / 8))
    em = Buffer.concat([Buffer.alloc(Math.ceil(bits / 8) - em.length), em]);
  return rsaSignEncoded(privateKey, em, constants.RSA_NO_PADDING);
}

/** Whether `signature` is a valid signature of the message (or digest); false for malformed bytes. */
export function verifyMessage(
  privateKey: KeyObject,
  algorithm: SigningAlgorithmInfo,
  message: Uint8Array,
  isDigest: boolean,
  signature: Uint8Array,
): boolean {
  const { scheme, hash } = algorithm;
  try {
    if (scheme === 'ecdsa') {
      if (!isDigest) return verify(hash, message, privateKey, signature);
      return ecdsaVerifyDigest(privateKey, message, signature);
    }
    const bits = modulusBits(privateKey);
    const size = Math.ceil(bits / 8);
    if (signature.length !== size) return false;
    const publicKey = createPublicKey(privateKey);
    if (!isDigest) {
      return verify(
        hash,
        message,
        scheme === 'pss'
          ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: HASH_LENGTH[hash] }
          : publicKey,
        signature,
      );
    }
    if (scheme === 'pkcs1') {
      const expected = Buffer.concat([DIGEST_INFO[hash] as Buffer, message]);
      const recovered = publicDecrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
      return recovered.length === expected.length && timingSafeEqual(recovered, expected);
    }
    const em = publicDecrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, signature);
    const emLen = Math.ceil((bits - 1) / 8);
    if (em.length > emLen && em.subarray(0, em.length - emLen).some((b) => b !== 0)) return false;
    return pssVerify(message, em.subarray(em.length - emLen), bits - 1, hash);
  } catch {
    // Malformed signature bytes (a value not below the modulus, a broken DER) are an invalid signature.
    return false;
  }
}

// --- RSA encryption ---------------------------------------------------------------------------

/**
 * The largest plaintext RSAES-OAEP takes: k - 2·hLen - 2 bytes (RFC 8017, 7.1.1), which gives
 * the table of https://docs.aws.amazon.com/kms/latest/APIReference/API_Encrypt.html (RSA_2048:
 * 214 bytes with RSAES_OAEP_SHA_1, 190 with RSAES_OAEP_SHA_256; RSA_3072: 342 and 318;
 * RSA_4096: 470 and 446).
 */
export function oaepMaxPlaintext(privateKey: KeyObject, hash: HashName): number {
  return Math.ceil(modulusBits(privateKey) / 8) - 2 * HASH_LENGTH[hash] - 2;
}

export function oaepEncrypt(privateKey: KeyObject, hash: HashName, plaintext: Uint8Array): Buffer {
  return publicEncrypt(
    { key: createPublicKey(privateKey), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash },
    plaintext,
  );
}

/** The plaintext, or undefined for any failure (wrong key, wrong algorithm, tampering, wrong length). */
export function oaepDecrypt(
  privateKey: KeyObject,
  hash: HashName,
  ciphertext: Uint8Array,
): Buffer | undefined {
  if (ciphertext.length !== Math.ceil(modulusBits(privateKey) / 8)) return undefined;
  try {
    return privateDecrypt(
      { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash },
      ciphertext,
    );
  } catch {
    return undefined;
  }
}

// --- data key pairs ---------------------------------------------------------------------------

const PAIR_SPECS: Readonly<Record<string, () => KeyObject>> = {
  RSA_2048: () => rsaPair(2048),
  RSA_3072: () => rsaPair(3072),
  RSA_4096: () => rsaPair(4096),
  ECC_NIST_P256: () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey,
  ECC_NIST_P384: () => generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey,
  ECC_NIST_P521: () => generateKeyPairSync('ec', { namedCurve: 'secp521r1' }).privateKey,
  ECC_SECG_P256K1: () => generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey,
};

function rsaPair(bits: number): KeyObject {
  return generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 0x10001 }).privateKey;
}

export const DATA_KEY_PAIR_SPECS: readonly string[] = Object.keys(PAIR_SPECS);

/** A new key pair: the private key as PKCS #8 DER, the public key as DER SubjectPublicKeyInfo. */
export function generateDataKeyPair(spec: string): { privateKey: Buffer; publicKey: Buffer } {
  const make = PAIR_SPECS[spec];
  if (!make) throw new Error(`unsupported key pair spec ${spec}`);
  const key = make();
  return { privateKey: key.export({ type: 'pkcs8', format: 'der' }), publicKey: publicKeyDer(key) };
}
