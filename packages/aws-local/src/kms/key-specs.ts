import { randomBytes } from 'node:crypto';
import { generateEc, generateRsa } from './key-generation.js';

/**
 * The key specs the local KMS makes, with the usages and algorithms KMS allows for each, as the
 * developer guide's tables list them:
 * https://docs.aws.amazon.com/kms/latest/developerguide/symm-asymm-choose-key-spec.html
 * (RSA: https://docs.aws.amazon.com/kms/latest/developerguide/rsa-key-specs.html, ECC:
 * .../ecc-key-specs.html, HMAC: .../hmac.html). SM2 (China Regions only) and ML-DSA are not made.
 */

export type KeyUsage = 'ENCRYPT_DECRYPT' | 'SIGN_VERIFY' | 'GENERATE_VERIFY_MAC';

export interface KeySpecInfo {
  /** The usages a key of this spec may have; the first is not a default (CreateKey needs KeyUsage for non-symmetric specs). */
  usages: readonly KeyUsage[];
  encryptionAlgorithms?: readonly string[];
  signingAlgorithms?: readonly string[];
  macAlgorithms?: readonly string[];
  /**
   * Makes new material: 32 random bytes, HMAC key bytes, or a PKCS#8 DER private key (generated
   * off the event loop, through the bounded gate of `key-generation.ts`).
   */
  generate(): Promise<Buffer>;
}

/** CreateKey and GenerateDataKeyPair calls waiting for an RSA key pair; beyond them, ThrottlingException. */
export const CREATE_KEY_QUEUE = 16;

const RSA_SIGNING = [
  'RSASSA_PSS_SHA_256',
  'RSASSA_PSS_SHA_384',
  'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256',
  'RSASSA_PKCS1_V1_5_SHA_384',
  'RSASSA_PKCS1_V1_5_SHA_512',
] as const;
const RSA_ENCRYPTION = ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] as const;

const rsa = (bits: number): KeySpecInfo => ({
  usages: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'],
  encryptionAlgorithms: RSA_ENCRYPTION,
  signingAlgorithms: RSA_SIGNING,
  generate: async () => (await generateRsa(bits, CREATE_KEY_QUEUE)).export({ format: 'der', type: 'pkcs8' }),
});

const ecc = (namedCurve: string, signing: string): KeySpecInfo => ({
  usages: ['SIGN_VERIFY'],
  signingAlgorithms: [signing],
  generate: async () => (await generateEc(namedCurve)).export({ format: 'der', type: 'pkcs8' }),
});

const hmac = (bytes: number, algorithm: string): KeySpecInfo => ({
  usages: ['GENERATE_VERIFY_MAC'],
  macAlgorithms: [algorithm],
  generate: async () => randomBytes(bytes),
});

export const KEY_SPECS: Readonly<Record<string, KeySpecInfo>> = Object.freeze({
  SYMMETRIC_DEFAULT: {
    usages: ['ENCRYPT_DECRYPT'],
    encryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    generate: async () => randomBytes(32),
  },
  RSA_2048: rsa(2048),
  RSA_3072: rsa(3072),
  RSA_4096: rsa(4096),
  ECC_NIST_P256: ecc('prime256v1', 'ECDSA_SHA_256'),
  ECC_NIST_P384: ecc('secp384r1', 'ECDSA_SHA_384'),
  ECC_NIST_P521: ecc('secp521r1', 'ECDSA_SHA_512'),
  ECC_SECG_P256K1: ecc('secp256k1', 'ECDSA_SHA_256'),
  // HMAC key lengths equal the hash's output length (hmac.html, "HMAC key specs").
  HMAC_224: hmac(28, 'HMAC_SHA_224'),
  HMAC_256: hmac(32, 'HMAC_SHA_256'),
  HMAC_384: hmac(48, 'HMAC_SHA_384'),
  HMAC_512: hmac(64, 'HMAC_SHA_512'),
});

/** The spec's entry, or undefined for a name that is not a key spec (own properties only). */
export function findSpec(spec: string): KeySpecInfo | undefined {
  return Object.hasOwn(KEY_SPECS, spec) ? KEY_SPECS[spec] : undefined;
}

/** The spec's entry; only specs the store accepted at CreateKey are ever looked up. */
export function specInfo(spec: string): KeySpecInfo {
  const info = findSpec(spec);
  if (!info) throw new Error(`unknown key spec ${spec}`);
  return info;
}

/** The algorithms DescribeKey and GetPublicKey list for a key of this spec and usage. */
export function algorithmsOf(spec: string, usage: KeyUsage) {
  const info = specInfo(spec);
  if (usage === 'ENCRYPT_DECRYPT') return { EncryptionAlgorithms: [...(info.encryptionAlgorithms ?? [])] };
  if (usage === 'SIGN_VERIFY') return { SigningAlgorithms: [...(info.signingAlgorithms ?? [])] };
  return { MacAlgorithms: [...(info.macAlgorithms ?? [])] };
}
