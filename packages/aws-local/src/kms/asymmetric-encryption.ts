import type { EncryptionContext } from '@eaas/aws-rules';
import { OAEP_HASH, oaepDecrypt, oaepEncrypt, oaepMaxPlaintext, privateKeyOf } from './asymmetric-crypto.js';
import { KmsError, validation } from './errors.js';
import type { KeyRecord, KeyStore } from './key-store.js';
import { specOf } from './records.js';

/**
 * Encrypt, Decrypt and ReEncrypt with RSA ENCRYPT_DECRYPT keys: RSAES-OAEP with SHA-1 or SHA-256
 * under the key's public key. The ciphertext is the bare RSAES-OAEP output, with no header: "KMS
 * cannot store metadata in ciphertext generated with asymmetric keys", so Decrypt needs the KeyId
 * and the EncryptionAlgorithm (https://docs.aws.amazon.com/kms/latest/APIReference/API_Encrypt.html),
 * and a ciphertext made with the public key outside KMS (OpenSSL...) decrypts the same way.
 */

/** Whether the key encrypts with RSAES-OAEP (an asymmetric ENCRYPT_DECRYPT key). */
export function isAsymmetricEncryptionKey(key: KeyRecord): boolean {
  const { keySpec, keyUsage } = specOf(key);
  return keyUsage === 'ENCRYPT_DECRYPT' && keySpec !== 'SYMMETRIC_DEFAULT';
}

/**
 * The request's algorithm for an RSA key. EncryptionAlgorithm defaults to SYMMETRIC_DEFAULT,
 * which KMS answers for an RSA key with "InvalidKeyUsageException: Algorithm SYMMETRIC_DEFAULT is
 * incompatible with key spec RSA_2048." An encryption context "is supported only on operations
 * with symmetric encryption KMS keys" (API_Encrypt): the local KMS refuses one with a
 * ValidationException rather than ignore it.
 */
export function rsaAlgorithm(
  key: KeyRecord,
  algorithm: string | undefined,
  context: EncryptionContext | undefined,
): string {
  const { keySpec } = specOf(key);
  const name = algorithm ?? 'SYMMETRIC_DEFAULT';
  if (OAEP_HASH[name] === undefined) {
    throw new KmsError(
      'InvalidKeyUsageException',
      `Algorithm ${name} is incompatible with key spec ${keySpec}.`,
    );
  }
  if (context !== undefined && Object.keys(context).length > 0) {
    throw validation(
      `An encryption context is not supported with asymmetric KMS keys (key spec ${keySpec}).`,
    );
  }
  return name;
}

/** The algorithm's OAEP hash; the name was checked by `rsaAlgorithm`. */
const hashOf = (algorithm: string) => OAEP_HASH[algorithm] ?? 'sha256';

/** Encrypts under the key's public key; a plaintext over the documented maximum is a ValidationException. */
export function rsaEncrypt(
  store: KeyStore,
  key: KeyRecord,
  algorithm: string,
  plaintext: Uint8Array,
): Buffer {
  const privateKey = privateKeyOf(store.material(key, key.materials.length - 1));
  const max = oaepMaxPlaintext(privateKey, hashOf(algorithm));
  if (plaintext.length > max) {
    throw validation(
      `Plaintext is ${plaintext.length} bytes; ${algorithm} with a ${specOf(key).keySpec} key takes at most ${max} bytes.`,
    );
  }
  return oaepEncrypt(privateKey, hashOf(algorithm), plaintext);
}

/** The plaintext, or undefined when the ciphertext was not made under this key with this algorithm. */
export function rsaDecrypt(
  store: KeyStore,
  key: KeyRecord,
  algorithm: string,
  ciphertext: Uint8Array,
): Buffer | undefined {
  const privateKey = privateKeyOf(store.material(key, key.materials.length - 1));
  return oaepDecrypt(privateKey, hashOf(algorithm), ciphertext);
}
