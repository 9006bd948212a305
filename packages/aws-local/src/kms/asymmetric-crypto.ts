import {
  constants,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  privateDecrypt,
  publicDecrypt,
  publicEncrypt,
  sign,
  timingSafeEqual,
  verify,
} from 'node:crypto';
import { ecdsaSignDigest, ecdsaVerifyDigest } from './ecdsa-digest.js';
import { KmsError } from './errors.js';
import { generateEc, generateRsa } from './key-generation.js';
import { CREATE_KEY_QUEUE } from './key-specs.js';
import {
  DIGEST_INFO,
  HASH_LENGTH,
  type HashName,
  modulusBits,
  pssEncode,
  pssVerify,
  rsaSignEncoded,
} from './rsa-digest.js';

/**
 * The asymmetric primitives of the local KMS, all from `node:crypto`: RSASSA-PSS and
 * RSASSA-PKCS1-v1_5 signatures, ECDSA, RSAES-OAEP, and data key pairs.
 *
 * KMS signs either a message (MessageType RAW: KMS hashes it) or a digest the caller computed
 * (DIGEST). `crypto.sign` always hashes its input, so the DIGEST paths use lower-level node
 * primitives (`rsa-digest.ts`, `ecdsa-digest.ts`). Either way the signature is the one the
 * standard defines, so a DIGEST signature verifies as a RAW one of the same message, here and
 * with OpenSSL.
 */

export type { HashName };

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

/**
 * What a primitive that fails on a stored key answers. ImportKeyMaterial refuses a key whose
 * parts disagree (`private-key-checks.ts`), but material stored before that check, or altered on
 * disk, may still make node:crypto throw (an even RSA modulus: "no inverse"). That is the key's
 * state, not the service's: KMSInvalidStateException (400), "the state of the specified resource
 * is not valid for this request", rather than KMSInternalException (500).
 */
function unusableMaterial(cause: unknown): KmsError {
  if (cause instanceof KmsError) return cause;
  return new KmsError(
    'KMSInvalidStateException',
    'The key material of this KMS key is not a valid key of its key spec and cannot be used.',
  );
}

/** Runs a primitive on stored key material, answering `unusableMaterial` for any failure. */
function withStoredKey<T>(run: () => T): T {
  try {
    return run();
  } catch (cause) {
    throw unusableMaterial(cause);
  }
}

/** The private key of a key material version (PKCS #8 DER). */
export function privateKeyOf(material: Buffer): KeyObject {
  return withStoredKey(() => createPrivateKey({ key: material, format: 'der', type: 'pkcs8' }));
}

/** The public key as DER SubjectPublicKeyInfo (RFC 5280), as GetPublicKey answers it. */
export function publicKeyDer(privateKey: KeyObject): Buffer {
  return withStoredKey(() => createPublicKey(privateKey).export({ type: 'spki', format: 'der' }));
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
  return withStoredKey(() => signUnchecked(privateKey, algorithm, message, isDigest));
}

function signUnchecked(
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
  return withStoredKey(() =>
    publicEncrypt(
      { key: createPublicKey(privateKey), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash },
      plaintext,
    ),
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

const PAIR_SPECS: Readonly<Record<string, () => Promise<KeyObject>>> = {
  RSA_2048: () => generateRsa(2048, CREATE_KEY_QUEUE),
  RSA_3072: () => generateRsa(3072, CREATE_KEY_QUEUE),
  RSA_4096: () => generateRsa(4096, CREATE_KEY_QUEUE),
  ECC_NIST_P256: () => generateEc('prime256v1'),
  ECC_NIST_P384: () => generateEc('secp384r1'),
  ECC_NIST_P521: () => generateEc('secp521r1'),
  ECC_SECG_P256K1: () => generateEc('secp256k1'),
};

export const DATA_KEY_PAIR_SPECS: readonly string[] = Object.keys(PAIR_SPECS);

/**
 * A new key pair (off the event loop; RSA through the bounded gate of `key-generation.ts`): the
 * private key as PKCS #8 DER, the public key as DER SubjectPublicKeyInfo.
 */
export async function generateDataKeyPair(spec: string): Promise<{ privateKey: Buffer; publicKey: Buffer }> {
  const make = Object.hasOwn(PAIR_SPECS, spec) ? PAIR_SPECS[spec] : undefined;
  if (!make) throw new Error(`unsupported key pair spec ${spec}`);
  const key = await make();
  return { privateKey: key.export({ type: 'pkcs8', format: 'der' }), publicKey: publicKeyDer(key) };
}
