import { DomainError } from './errors.js';

/**
 * The kinds of key the API creates, as KMS defines them: a key spec, what the key is for (its
 * usage) and where its material comes from (its origin). Which combinations KMS allows, the
 * algorithms each spec has, and which operations a key of each kind takes, from the KMS
 * developer guide (https://docs.aws.amazon.com/kms/latest/developerguide/symm-asymm-choose-key-spec.html)
 * and API reference (CreateKey, Sign, GenerateMac, CreateGrant). Pure data and checks: the
 * policies, the services and the schemas all read it, so they cannot disagree.
 */

export const KEY_SPECS = [
  'SYMMETRIC_DEFAULT',
  'RSA_2048',
  'RSA_3072',
  'RSA_4096',
  'ECC_NIST_P256',
  'ECC_NIST_P384',
  'ECC_NIST_P521',
  'ECC_SECG_P256K1',
  'HMAC_224',
  'HMAC_256',
  'HMAC_384',
  'HMAC_512',
] as const;
export type KeySpec = (typeof KEY_SPECS)[number];

export const KEY_USAGES = ['ENCRYPT_DECRYPT', 'SIGN_VERIFY', 'GENERATE_VERIFY_MAC'] as const;
export type KeyUsage = (typeof KEY_USAGES)[number];

/** AWS_KMS: KMS makes the material; EXTERNAL: the key owner imports it (bring your own key). */
export const KEY_ORIGINS = ['AWS_KMS', 'EXTERNAL'] as const;
export type KeyOrigin = (typeof KEY_ORIGINS)[number];

export interface KeyKind {
  spec: KeySpec;
  usage: KeyUsage;
  origin: KeyOrigin;
}

/** The kind of every key made before there was a choice, and the default. */
export const SYMMETRIC: KeyKind = { spec: 'SYMMETRIC_DEFAULT', usage: 'ENCRYPT_DECRYPT', origin: 'AWS_KMS' };

const isRsa = (spec: KeySpec) => spec.startsWith('RSA_');
const isEcc = (spec: KeySpec) => spec.startsWith('ECC_');
const isHmac = (spec: KeySpec) => spec.startsWith('HMAC_');

/** The usages KMS allows for each spec (ECC key agreement and SM2 are not offered here). */
export function usagesOf(spec: KeySpec): readonly KeyUsage[] {
  if (isRsa(spec)) return ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'];
  if (isEcc(spec)) return ['SIGN_VERIFY'];
  if (isHmac(spec)) return ['GENERATE_VERIFY_MAC'];
  return ['ENCRYPT_DECRYPT'];
}

/**
 * A stable 400 for a key request KMS would refuse (or that the API does not offer): the spec,
 * usage, origin and rotation asked for do not go together.
 */
export class InvalidKeyConfigurationError extends DomainError {
  constructor(message: string) {
    super('InvalidKeyConfiguration', message);
  }
}

/**
 * The kind a creation request means. `keyUsage` defaults to the spec's only usage; an RSA key can
 * be for encryption or for signing, so it must say which (KMS's own default, ENCRYPT_DECRYPT, is
 * too easy to get by mistake for a key meant to sign).
 */
export function kindOf(input: {
  keySpec?: KeySpec | undefined;
  keyUsage?: KeyUsage | undefined;
  origin?: KeyOrigin | undefined;
}): KeyKind {
  const spec = input.keySpec ?? 'SYMMETRIC_DEFAULT';
  const allowed = usagesOf(spec);
  if (input.keyUsage === undefined && allowed.length > 1)
    throw new InvalidKeyConfigurationError(
      `A ${spec} key is for ${allowed.join(' or ')}: say which with keyUsage.`,
    );
  const usage = input.keyUsage ?? (allowed[0] as KeyUsage);
  if (!allowed.includes(usage))
    throw new InvalidKeyConfigurationError(
      `A ${spec} key cannot have keyUsage ${usage}; it takes ${allowed.join(' or ')}.`,
    );
  return { spec, usage, origin: input.origin ?? 'AWS_KMS' };
}

/**
 * Whether KMS rotates the key's material automatically: symmetric encryption keys whose material
 * KMS made (KMS refuses EnableKeyRotation for asymmetric, HMAC and imported keys:
 * https://docs.aws.amazon.com/kms/latest/developerguide/rotating-keys.html).
 */
export const rotates = (kind: KeyKind) => kind.spec === 'SYMMETRIC_DEFAULT' && kind.origin === 'AWS_KMS';

/** Signing algorithms of each spec, KMS's default (first) for this API first. */
export function signingAlgorithmsOf(spec: KeySpec): readonly string[] {
  switch (spec) {
    case 'ECC_NIST_P256':
    case 'ECC_SECG_P256K1':
      return ['ECDSA_SHA_256'];
    case 'ECC_NIST_P384':
      return ['ECDSA_SHA_384'];
    case 'ECC_NIST_P521':
      return ['ECDSA_SHA_512'];
    default:
      return isRsa(spec)
        ? [
            'RSASSA_PSS_SHA_256',
            'RSASSA_PSS_SHA_384',
            'RSASSA_PSS_SHA_512',
            'RSASSA_PKCS1_V1_5_SHA_256',
            'RSASSA_PKCS1_V1_5_SHA_384',
            'RSASSA_PKCS1_V1_5_SHA_512',
          ]
        : [];
  }
}

export const SIGNING_ALGORITHMS = [...new Set(KEY_SPECS.flatMap(signingAlgorithmsOf))];
export const MAC_ALGORITHMS = ['HMAC_SHA_224', 'HMAC_SHA_256', 'HMAC_SHA_384', 'HMAC_SHA_512'] as const;

/** The one MAC algorithm of an HMAC spec (HMAC_256: HMAC_SHA_256). */
export function macAlgorithmOf(spec: KeySpec): string | undefined {
  return isHmac(spec) ? spec.replace('HMAC_', 'HMAC_SHA_') : undefined;
}

/** The node:crypto hash a signing algorithm digests with: ECDSA_SHA_384 and RSASSA_PSS_SHA_384, sha384. */
export function hashOfSigningAlgorithm(algorithm: string): 'sha256' | 'sha384' | 'sha512' {
  const bits = /SHA_(256|384|512)$/.exec(algorithm)?.[1];
  if (!bits) throw new DomainError('ValidationError', `Unknown signing algorithm ${algorithm}.`);
  return `sha${bits}` as 'sha256' | 'sha384' | 'sha512';
}

/** Key material actions: administration, on keys whose material the owner brings. */
export const IMPORT_ACTIONS: readonly string[] = [
  'kms:GetParametersForImport',
  'kms:ImportKeyMaterial',
  'kms:DeleteImportedKeyMaterial',
];

/**
 * The operations a key of each usage takes, as grant operations (CreateGrant's names): what a
 * grant through the API may give, what the key's users may do, and what the service's roles do on
 * the callers' behalf. For symmetric keys the list is the one the service has always used.
 */
export function useOperationsOf(kind: Pick<KeyKind, 'spec' | 'usage'>): readonly string[] {
  if (kind.usage === 'SIGN_VERIFY') return ['Sign', 'Verify', 'GetPublicKey', 'DescribeKey'];
  if (kind.usage === 'GENERATE_VERIFY_MAC') return ['GenerateMac', 'VerifyMac', 'DescribeKey'];
  // KMS's grant operations for asymmetric encryption keys (grants.html#terms-grant-operations).
  if (isRsa(kind.spec))
    return ['Encrypt', 'Decrypt', 'ReEncryptFrom', 'ReEncryptTo', 'GetPublicKey', 'DescribeKey'];
  return [
    'Encrypt',
    'Decrypt',
    'ReEncryptFrom',
    'ReEncryptTo',
    'GenerateDataKey',
    'GenerateDataKeyWithoutPlaintext',
    'DescribeKey',
  ];
}

/** Every operation a grant through the API may give, on some kind of key. */
export const GRANT_OPERATIONS = [
  'Encrypt',
  'Decrypt',
  'ReEncryptFrom',
  'ReEncryptTo',
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'DescribeKey',
  'Sign',
  'Verify',
  'GetPublicKey',
  'GenerateMac',
  'VerifyMac',
] as const;

/**
 * The actions the AWS console gives a key's users, by kind
 * (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-users):
 * the symmetric list for symmetric keys; for the others, the operations of their usage, named one
 * by one: the same list as the service's statement and the grants, so none gives what another does not.
 */
export function userActionsOf(kind: Pick<KeyKind, 'spec' | 'usage'>, symmetric: readonly string[]): string[] {
  if (kind.spec === 'SYMMETRIC_DEFAULT') return [...symmetric];
  return useOperationsOf(kind).map((op) => `kms:${op}`);
}

/**
 * Encryption algorithms (KMS's EncryptionAlgorithmSpec) the API offers: SYMMETRIC_DEFAULT for
 * symmetric keys, RSAES-OAEP with SHA-1 or SHA-256 (and MGF1 of the same hash) for RSA keys for
 * ENCRYPT_DECRYPT (https://docs.aws.amazon.com/kms/latest/developerguide/symmetric-asymmetric.html).
 */
export const RSA_ENCRYPTION_ALGORITHMS = ['RSAES_OAEP_SHA_256', 'RSAES_OAEP_SHA_1'] as const;
export type RsaEncryptionAlgorithm = (typeof RSA_ENCRYPTION_ALGORITHMS)[number];
export const ENCRYPTION_ALGORITHMS = ['SYMMETRIC_DEFAULT', ...RSA_ENCRYPTION_ALGORITHMS] as const;
export type EncryptionAlgorithm = (typeof ENCRYPTION_ALGORITHMS)[number];

export const isRsaEncryptionAlgorithm = (
  algorithm: string | undefined,
): algorithm is RsaEncryptionAlgorithm =>
  algorithm === 'RSAES_OAEP_SHA_256' || algorithm === 'RSAES_OAEP_SHA_1';

/** Whether a key of this kind encrypts with RSAES-OAEP (an RSA key for ENCRYPT_DECRYPT). */
export const isRsaEncryptionKind = (kind: Pick<KeyKind, 'spec' | 'usage'> | undefined): boolean =>
  kind !== undefined && isRsa(kind.spec) && kind.usage === 'ENCRYPT_DECRYPT';

/**
 * The largest plaintext RSAES-OAEP encrypts under a key of `spec`: the modulus's bytes less twice
 * the hash's and 2 (RFC 8017, 7.1.1), as KMS documents them (Encrypt: RSA_2048 214/190 bytes with
 * SHA-1/SHA-256, RSA_3072 342/318, RSA_4096 470/446). Undefined for a spec that is not RSA.
 */
export function rsaPlaintextLimit(spec: KeySpec, algorithm: RsaEncryptionAlgorithm): number | undefined {
  const bits = /^RSA_(2048|3072|4096)$/.exec(spec)?.[1];
  if (!bits) return undefined;
  const hashBytes = algorithm === 'RSAES_OAEP_SHA_1' ? 20 : 32;
  return Number(bits) / 8 - 2 * hashBytes - 2;
}
