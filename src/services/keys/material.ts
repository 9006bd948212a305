import { DomainError, ValidationError } from '../../core/errors.js';
import { InvalidKeyConfigurationError, type KeyKind, SYMMETRIC } from '../../core/key-kinds.js';
import { publicKeyPem } from '../../core/pem.js';
import type { KeyMaterial } from '../../ports.js';
import { guard, type KeysContext, keyView, type Requester } from './shared.js';

/**
 * Key material its owner brings (origin EXTERNAL): the wrapping key and token to wrap it with,
 * importing it, deleting it. Administration: the key's administrators do it (the key material
 * actions are in their statement of such a key's policy), and its users may not. The wrapped
 * material and the token pass through to KMS and are never logged.
 */

export const WRAPPING_KEY_SPECS = ['RSA_2048', 'RSA_3072', 'RSA_4096'] as const;
export const WRAPPING_ALGORITHMS = [
  'RSAES_OAEP_SHA_256',
  'RSA_AES_KEY_WRAP_SHA_256',
  'RSAES_OAEP_SHA_1',
  'RSA_AES_KEY_WRAP_SHA_1',
] as const;
export type WrappingKeySpec = (typeof WRAPPING_KEY_SPECS)[number];
export type WrappingAlgorithm = (typeof WRAPPING_ALGORITHMS)[number];

/**
 * The wrapping key when none is asked for: RSA_4096, the largest KMS offers, which wraps every
 * kind of material with every algorithm (RSA_2048 cannot wrap ECC_NIST_P521 material with
 * RSAES_OAEP: https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-get-public-key-and-token.html).
 */
export const DEFAULT_WRAPPING_KEY_SPEC: WrappingKeySpec = 'RSA_4096';

/**
 * The wrapping algorithm when none is asked for: RSAES_OAEP_SHA_256, with the SHA-256 the AWS
 * guide's OpenSSL example uses, for every material but an RSA private key, which is too long for
 * RSA-OAEP and must be wrapped with RSA_AES_KEY_WRAP_SHA_256 (AES key wrap with padding under a
 * fresh AES key, itself RSA-OAEP wrapped): "To import an RSA private key, you must use an RSA_AES
 * wrapping algorithm" (https://docs.aws.amazon.com/kms/latest/APIReference/API_GetParametersForImport.html).
 */
export function defaultWrappingAlgorithm(kind: KeyKind): WrappingAlgorithm {
  return kind.spec.startsWith('RSA_') ? 'RSA_AES_KEY_WRAP_SHA_256' : 'RSAES_OAEP_SHA_256';
}

/** KMS's longest validity of imported material: 365 days from the import (ImportKeyMaterial, ValidTo). */
export const MAX_VALIDITY_MS = 365 * 86_400_000;

export interface ImportMaterial {
  importToken: string;
  encryptedKeyMaterial: string;
  /** Absent: KEY_MATERIAL_EXPIRES when validTo is given, else KEY_MATERIAL_DOES_NOT_EXPIRE. */
  expirationModel?: 'KEY_MATERIAL_EXPIRES' | 'KEY_MATERIAL_DOES_NOT_EXPIRE' | undefined;
  validTo?: string | undefined;
}

const bytes = (b64: string) => Buffer.from(b64, 'base64');

/** RFC 3339's date-time (section 5.6): a full date, a time, and Z or a numeric offset. */
export const RFC3339_DATE_TIME =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/i;

export class KeyMaterials {
  constructor(
    private readonly ctx: KeysContext,
    private readonly now: () => number = Date.now,
  ) {}

  private port(): KeyMaterial {
    if (!this.ctx.material)
      throw new DomainError('UnsupportedOperation', 'This deployment does not import key material.');
    return this.ctx.material;
  }

  /** Precondition of every material use case: the key's owner brings its material. */
  private async external(arn: string, keyId: string): Promise<KeyKind> {
    const kind = (await this.ctx.admin.describeKey(arn)).kind ?? SYMMETRIC;
    if (kind.origin !== 'EXTERNAL')
      throw new DomainError(
        'UnsupportedOperation',
        `The key ${keyId} has material KMS made (origin ${kind.origin}); only a key created with origin EXTERNAL takes imported material.`,
      );
    return kind;
  }

  async parameters(
    r: Requester,
    keyId: string,
    input: {
      wrappingKeySpec?: WrappingKeySpec | undefined;
      wrappingAlgorithm?: WrappingAlgorithm | undefined;
    },
  ) {
    const arn = await guard(this.ctx, r, keyId, 'kms:GetParametersForImport');
    const kind = await this.external(arn, keyId);
    const wrappingKeySpec = input.wrappingKeySpec ?? DEFAULT_WRAPPING_KEY_SPEC;
    const wrappingAlgorithm = input.wrappingAlgorithm ?? defaultWrappingAlgorithm(kind);
    const oaepOnly = wrappingAlgorithm.startsWith('RSAES_');
    // Refused now rather than at the import, after the material was wrapped (KMS's rules, above).
    if (oaepOnly && kind.spec.startsWith('RSA_'))
      throw new InvalidKeyConfigurationError(
        `An RSA private key is too long for ${wrappingAlgorithm}: wrap it with RSA_AES_KEY_WRAP_SHA_256.`,
      );
    if (oaepOnly && kind.spec === 'ECC_NIST_P521' && wrappingKeySpec === 'RSA_2048')
      throw new InvalidKeyConfigurationError(
        'ECC_NIST_P521 material is too long for RSA_2048 with RSAES_OAEP: use RSA_3072 or RSA_4096, or RSA_AES_KEY_WRAP_SHA_256.',
      );
    const out = await this.port().importParameters(arn, wrappingKeySpec, wrappingAlgorithm);
    return {
      keyId: arn,
      wrappingKeySpec,
      wrappingAlgorithm,
      publicKey: Buffer.from(out.publicKey).toString('base64'),
      publicKeyPem: publicKeyPem(out.publicKey),
      importToken: Buffer.from(out.importToken).toString('base64'),
      ...(out.validTo ? { parametersValidTo: out.validTo.toISOString() } : {}),
    };
  }

  async import(r: Requester, keyId: string, input: ImportMaterial) {
    const arn = await guard(this.ctx, r, keyId, 'kms:ImportKeyMaterial');
    // Precondition: an RFC 3339 date-time with its offset (Z or +hh:mm). Without one, Date reads
    // it in the server's local time zone, which is no one's meaning.
    if (input.validTo !== undefined && !RFC3339_DATE_TIME.test(input.validTo))
      throw new ValidationError(
        'validTo must be an RFC 3339 date-time with a time zone, Z or an offset: 2026-01-31T12:00:00Z or 2026-01-31T12:00:00+01:00.',
        [{ path: '/validTo', message: 'must be an RFC 3339 date-time with Z or an offset' }],
      );
    const validTo = input.validTo === undefined ? undefined : new Date(input.validTo);
    const expirationModel =
      input.expirationModel ?? (validTo ? 'KEY_MATERIAL_EXPIRES' : 'KEY_MATERIAL_DOES_NOT_EXPIRE');
    if (expirationModel === 'KEY_MATERIAL_EXPIRES') {
      if (!validTo || Number.isNaN(validTo.getTime()))
        throw new ValidationError('Material that expires needs validTo, a date-time.');
      const ms = validTo.getTime() - this.now();
      if (ms <= 0 || ms > MAX_VALIDITY_MS)
        throw new ValidationError('validTo must be in the future, at most 365 days from now.');
    } else if (validTo)
      throw new ValidationError('validTo is only for expirationModel KEY_MATERIAL_EXPIRES.');
    await this.external(arn, keyId);
    await this.port().importMaterial(arn, {
      importToken: bytes(input.importToken),
      encryptedKeyMaterial: bytes(input.encryptedKeyMaterial),
      expirationModel,
      ...(validTo ? { validTo } : {}),
    });
    return { key: keyView(await this.ctx.admin.describeKey(arn)) };
  }

  async delete(r: Requester, keyId: string) {
    const arn = await guard(this.ctx, r, keyId, 'kms:DeleteImportedKeyMaterial');
    await this.external(arn, keyId);
    await this.port().deleteMaterial(arn);
    return { key: keyView(await this.ctx.admin.describeKey(arn)) };
  }
}
