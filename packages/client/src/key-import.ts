import {
  constants,
  createCipheriv,
  createPublicKey,
  type KeyObject,
  publicEncrypt,
  randomBytes,
} from 'node:crypto';

/**
 * Wrapping key material for import into a key created with origin EXTERNAL, with node:crypto, as
 * the AWS guide does with OpenSSL
 * (https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-encrypt-key-material.html):
 *
 * - RSAES_OAEP_SHA_256 / _SHA_1: the material, RSA-OAEP encrypted under the wrapping public key
 *   (`openssl pkeyutl -encrypt -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256`);
 * - RSA_AES_KEY_WRAP_SHA_256 / _SHA_1: a fresh 256-bit AES key, RSA-OAEP encrypted under the
 *   wrapping public key, followed by the material wrapped under that AES key with AES key wrap
 *   with padding (RFC 5649, `openssl enc -id-aes256-wrap-pad -iv A65959A6`): for material too long
 *   for RSA-OAEP, such as an RSA private key.
 *
 * Symmetric and HMAC material is the raw key bytes; an asymmetric key's is its private key as DER
 * PKCS #8 (`privateKeyMaterial`).
 */

export type WrappingAlgorithm =
  | 'RSAES_OAEP_SHA_256'
  | 'RSAES_OAEP_SHA_1'
  | 'RSA_AES_KEY_WRAP_SHA_256'
  | 'RSA_AES_KEY_WRAP_SHA_1';

const WRAPPING_ALGORITHMS: readonly string[] = [
  'RSAES_OAEP_SHA_256',
  'RSAES_OAEP_SHA_1',
  'RSA_AES_KEY_WRAP_SHA_256',
  'RSA_AES_KEY_WRAP_SHA_1',
];

/** The smallest wrapping key KMS makes (RSA_2048); a smaller or non-RSA key is no wrapping key of KMS's. */
export const MIN_WRAPPING_KEY_BITS = 2048;

/** RFC 5649's alternative initial value, which `id-aes256-wrap-pad` takes as its IV. */
const KWP_IV = Buffer.from('A65959A6', 'hex');

/** The wrapping public key of GET .../import-parameters: base64 DER, PEM, or a KeyObject. */
function publicKeyOf(key: string | Uint8Array | KeyObject): KeyObject {
  if (typeof key === 'string' && key.includes('-----BEGIN')) return createPublicKey(key);
  if (typeof key === 'string')
    return createPublicKey({ key: Buffer.from(key, 'base64'), format: 'der', type: 'spki' });
  if (key instanceof Uint8Array)
    return createPublicKey({ key: Buffer.from(key), format: 'der', type: 'spki' });
  return key;
}

const oaep = (key: KeyObject, hash: 'sha1' | 'sha256', data: Uint8Array) =>
  publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, data);

/** The material, wrapped for PUT /v1/keys/{keyId}/material with the import parameters' key and algorithm. */
export function wrapKeyMaterial(
  material: Uint8Array,
  wrappingPublicKey: string | Uint8Array | KeyObject,
  algorithm: WrappingAlgorithm,
): Buffer {
  const key = publicKeyOf(wrappingPublicKey);
  // Preconditions: material is wrapped only under a wrapping key KMS could have made, with an
  // algorithm KMS names; anything else wraps it for whoever holds that key.
  if (!WRAPPING_ALGORITHMS.includes(algorithm))
    throw new Error(
      `Unknown wrapping algorithm ${String(algorithm)}: use one of ${WRAPPING_ALGORITHMS.join(', ')}.`,
    );
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== 'rsa' || bits < MIN_WRAPPING_KEY_BITS)
    throw new Error(
      `The wrapping key is ${key.asymmetricKeyType === 'rsa' ? `RSA of ${bits} bits` : `not RSA (${key.asymmetricKeyType})`}: KMS's wrapping keys are RSA of ${MIN_WRAPPING_KEY_BITS} bits or more; the material was not wrapped.`,
    );
  const hash = algorithm.endsWith('SHA_1') ? 'sha1' : 'sha256';
  if (algorithm.startsWith('RSAES_OAEP')) return oaep(key, hash, material);
  const aesKey = randomBytes(32);
  try {
    const cipher = createCipheriv('id-aes256-wrap-pad', aesKey, KWP_IV);
    const wrapped = Buffer.concat([cipher.update(material), cipher.final()]);
    return Buffer.concat([oaep(key, hash, aesKey), wrapped]);
  } finally {
    aesKey.fill(0);
  }
}

/** An asymmetric key's material as KMS imports it: the private key as DER PKCS #8. */
export function privateKeyMaterial(privateKey: KeyObject): Buffer {
  return privateKey.export({ format: 'der', type: 'pkcs8' });
}

/**
 * The wrapping key of import parameters the server answered, once checked against what was asked:
 * the algorithm asked for (or, when none was, not a SHA-1 one: SHA-1 only when asked for
 * explicitly), the key spec asked for, and in any case an RSA key of 2,048 bits or more. Throws
 * before anything is wrapped: material wrapped under a key the server chose freely is material
 * handed to whoever holds that key.
 */
export function checkImportParameters(
  params: { publicKey: string; wrappingAlgorithm: string },
  asked: { wrappingAlgorithm?: WrappingAlgorithm | undefined; wrappingKeySpec?: string | undefined },
): KeyObject {
  const algorithm = params.wrappingAlgorithm;
  if (
    asked.wrappingAlgorithm !== undefined
      ? algorithm !== asked.wrappingAlgorithm
      : algorithm.endsWith('SHA_1') || !WRAPPING_ALGORITHMS.includes(algorithm)
  )
    throw new Error(
      `The server offered the wrapping algorithm ${algorithm}, not ${asked.wrappingAlgorithm ?? 'a SHA-256 one'}: the material was not wrapped (ask for a SHA-1 one explicitly to use it).`,
    );
  const key = publicKeyOf(params.publicKey);
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  const spec =
    asked.wrappingKeySpec === undefined ? undefined : /^RSA_(\d+)$/.exec(asked.wrappingKeySpec)?.[1];
  if (
    key.asymmetricKeyType !== 'rsa' ||
    bits < MIN_WRAPPING_KEY_BITS ||
    (asked.wrappingKeySpec !== undefined && bits !== Number(spec))
  )
    throw new Error(
      `The server offered a wrapping key that is ${key.asymmetricKeyType === 'rsa' ? `RSA of ${bits} bits` : `not RSA (${key.asymmetricKeyType})`}, not ${asked.wrappingKeySpec ?? `RSA of ${MIN_WRAPPING_KEY_BITS} bits or more`}: the material was not wrapped.`,
    );
  return key;
}
