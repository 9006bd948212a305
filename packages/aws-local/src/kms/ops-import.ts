import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import type { LocalAccess } from './access.js';
import { KmsError, notFound, validation } from './errors.js';
import {
  unwrapKeyMaterial,
  WRAPPING_ALGORITHMS,
  WRAPPING_KEY_SPECS,
  type WrappingAlgorithm,
  type WrappingKeySpec,
} from './import-tokens.js';
import type { ImportTarget } from './imported-materials.js';
import { generateRsa } from './key-generation.js';
import { DAY_MS, type KeyRecord, type KeyStore, MAX_ON_DEMAND_ROTATIONS } from './key-store.js';
import { type Operation, operation, requireNotPendingDeletion, seconds } from './operation.js';
import { privateKeyProblem } from './private-key-checks.js';
import { specOf } from './records.js';
import { blob, keyIdShape, str } from './shapes.js';

/**
 * Imported key material (BYOK): GetParametersForImport, ImportKeyMaterial and
 * DeleteImportedKeyMaterial, for keys created with Origin EXTERNAL
 * (https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys.html).
 */

/**
 * GetParametersForImport calls waiting for a wrapping key pair (generated through the shared gate
 * of `key-generation.ts`); beyond them a call answers ThrottlingException.
 */
export const MAX_WRAPPING_KEY_QUEUE = 4;

/** How long a wrapping key and import token stay valid: 24 hours (importing-keys-get-public-key-and-token.html). */
export const IMPORT_PARAMETERS_TTL_MS = DAY_MS;
/** "The maximum value [of ValidTo] is 365 days from the request date" (API_ImportKeyMaterial.html). */
export const MAX_VALID_TO_MS = 365 * DAY_MS;
/** Bound on ImportToken and EncryptedKeyMaterial (the KMS API reference: 1 to 6144 bytes). */
const MAX_BLOB = 6144;

/**
 * Key states that admit import (https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html):
 * GetParametersForImport, ImportKeyMaterial and DeleteImportedKeyMaterial answer
 * UnsupportedOperationException for a key that cannot have imported material (origin not EXTERNAL).
 */
function requireExternal(store: KeyStore, key: KeyRecord): void {
  const { origin } = specOf(key);
  if (origin !== 'EXTERNAL') {
    throw new KmsError(
      'UnsupportedOperationException',
      `${store.keyArn(key.keyId)} origin is ${origin} which is not valid for this operation.`,
    );
  }
}

/**
 * What imported material must be for the key's spec ("Requirements for imported key material",
 * https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-conceptual.html): a 256-bit
 * symmetric key; HMAC key bytes between the hash's output length and its block size (HMAC_224:
 * 28-64 bytes, HMAC_256: 32-64, HMAC_384: 48-128, HMAC_512: 64-128); for asymmetric keys a PKCS#8
 * DER private key of exactly the key's spec. Answers the material as stored (a private key
 * re-encoded, so that the same key encoded otherwise is the same material), or throws
 * IncorrectKeyMaterialException.
 */
const HMAC_LENGTHS: Readonly<Record<string, readonly [number, number]>> = {
  HMAC_224: [28, 64],
  HMAC_256: [32, 64],
  HMAC_384: [48, 128],
  HMAC_512: [64, 128],
};
const CURVES: Readonly<Record<string, string>> = {
  ECC_NIST_P256: 'prime256v1',
  ECC_NIST_P384: 'secp384r1',
  ECC_NIST_P521: 'secp521r1',
  ECC_SECG_P256K1: 'secp256k1',
};
const RSA_BITS: Readonly<Record<string, number>> = { RSA_2048: 2048, RSA_3072: 3072, RSA_4096: 4096 };

function incorrectMaterial(message: string): KmsError {
  return new KmsError('IncorrectKeyMaterialException', message);
}

function materialFor(keySpec: string, material: Buffer): Buffer {
  if (keySpec === 'SYMMETRIC_DEFAULT') {
    if (material.length !== 32)
      throw incorrectMaterial('Key material for a SYMMETRIC_DEFAULT key must be 256 bits (32 bytes).');
    return Buffer.from(material);
  }
  const hmac = HMAC_LENGTHS[keySpec];
  if (hmac) {
    const [min, max] = hmac;
    if (material.length < min || material.length > max)
      throw incorrectMaterial(`Key material for a ${keySpec} key must be ${min} to ${max} bytes.`);
    return Buffer.from(material);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: material, format: 'der', type: 'pkcs8' });
  } catch {
    throw incorrectMaterial(`Key material for a ${keySpec} key must be a DER-encoded PKCS#8 private key.`);
  }
  const details = privateKey.asymmetricKeyDetails ?? {};
  const fits =
    keySpec in RSA_BITS
      ? privateKey.asymmetricKeyType === 'rsa' && details.modulusLength === RSA_BITS[keySpec]
      : privateKey.asymmetricKeyType === 'ec' && details.namedCurve === CURVES[keySpec];
  if (!fits) throw incorrectMaterial(`The private key in the key material is not a ${keySpec} key.`);
  // A key whose parts disagree would sign what its public key does not verify, or fail (500) at
  // every use: refused here, as KMS refuses material that is not a valid key of the spec.
  const problem = privateKeyProblem(privateKey);
  if (problem !== undefined)
    throw incorrectMaterial(`The private key in the key material is not a valid ${keySpec} key: ${problem}.`);
  return privateKey.export({ format: 'der', type: 'pkcs8' });
}

const expirationModelShape = z.enum(['KEY_MATERIAL_EXPIRES', 'KEY_MATERIAL_DOES_NOT_EXPIRE']);

export const importOperations: Record<string, Operation> = {
  /** https://docs.aws.amazon.com/kms/latest/APIReference/API_GetParametersForImport.html */
  GetParametersForImport: operation(
    z.object({
      KeyId: keyIdShape,
      WrappingAlgorithm: z.enum([...WRAPPING_ALGORITHMS, 'RSAES_PKCS1_V1_5', 'SM2PKE']),
      WrappingKeySpec: z.enum(['RSA_2048', 'RSA_3072', 'RSA_4096', 'SM2']),
    }),
    async (input, { store, access }) => {
      const key = store.resolve(input.KeyId, false);
      // Condition keys kms:WrappingAlgorithm and kms:WrappingKeySpec (conditions-kms.html).
      access.require(key, 'kms:GetParametersForImport', undefined, {
        'kms:WrappingAlgorithm': [input.WrappingAlgorithm],
        'kms:WrappingKeySpec': [input.WrappingKeySpec],
      });
      requireExternal(store, key);
      // Pending deletion: KMSInvalidStateException (key-state.html).
      requireNotPendingDeletion(store, key);
      if (input.WrappingKeySpec === 'SM2' || input.WrappingAlgorithm === 'SM2PKE') {
        throw new KmsError(
          'UnsupportedOperationException',
          'SM2 wrapping keys are for the AWS China Regions; the local KMS does not make them.',
        );
      }
      // "As of October 10, 2023, KMS does not support the RSAES_PKCS1_V1_5 wrapping algorithm."
      if (input.WrappingAlgorithm === 'RSAES_PKCS1_V1_5')
        throw validation('The RSAES_PKCS1_V1_5 wrapping algorithm is no longer supported.');
      const algorithm = input.WrappingAlgorithm as WrappingAlgorithm;
      const spec = input.WrappingKeySpec as WrappingKeySpec;
      const privateKey = await generateRsa(WRAPPING_KEY_SPECS[spec], MAX_WRAPPING_KEY_QUEUE);
      const publicKey = createPublicKey(privateKey);
      const validTo = store.now().getTime() + IMPORT_PARAMETERS_TTL_MS;
      const der = privateKey.export({ format: 'der', type: 'pkcs8' });
      let token: Buffer;
      try {
        token = store.importTokens.seal({ keyId: key.keyId, algorithm, spec, validTo, privateKey: der });
      } finally {
        der.fill(0);
      }
      return {
        KeyId: store.keyArn(key.keyId),
        ImportToken: token.toString('base64'),
        PublicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
        ParametersValidTo: seconds(validTo),
      };
    },
  ),

  /** https://docs.aws.amazon.com/kms/latest/APIReference/API_ImportKeyMaterial.html */
  ImportKeyMaterial: operation(
    z.object({
      KeyId: keyIdShape,
      ImportToken: blob(1, MAX_BLOB),
      EncryptedKeyMaterial: blob(1, MAX_BLOB),
      ValidTo: z.number().optional(),
      ExpirationModel: expirationModelShape.optional(),
      ImportType: z.enum(['NEW_KEY_MATERIAL', 'EXISTING_KEY_MATERIAL']).optional(),
      // "Length Constraints: Minimum length of 0. Maximum length of 256. Pattern: ^[a-zA-Z0-9:/_\s.-]+$"
      // (API_ImportKeyMaterial.html); \s as KMS's (Java) patterns read it, ASCII whitespace only.
      KeyMaterialDescription: str(0, 256)
        .regex(/^[a-zA-Z0-9:/_ \t\n\v\f\r.-]+$/)
        .optional(),
      KeyMaterialId: str(1, 64).optional(),
    }),
    (input, { store, access }) => {
      try {
        return importKeyMaterial(input, store, access);
      } finally {
        input.ImportToken.fill(0);
        input.EncryptedKeyMaterial.fill(0);
      }
    },
  ),

  /** https://docs.aws.amazon.com/kms/latest/APIReference/API_DeleteImportedKeyMaterial.html */
  DeleteImportedKeyMaterial: operation(
    z.object({ KeyId: keyIdShape, KeyMaterialId: str(1, 64).optional() }),
    (input, { store, access }) => {
      const key = store.resolve(input.KeyId, false);
      access.require(key, 'kms:DeleteImportedKeyMaterial');
      requireExternal(store, key);
      // Any key state: "When the specified KMS key is in the PendingDeletion state, this operation
      // does not change the KMS key's state. Otherwise, it changes the KMS key's state to PendingImport."
      const arn = store.keyArn(key.keyId);
      if (input.KeyMaterialId !== undefined) {
        const index = key.materials.findIndex((m) => m.id === input.KeyMaterialId);
        const pending = (key.pendingMaterials ?? []).some((m) => m.id === input.KeyMaterialId);
        if (index < 0 && !pending)
          throw notFound(`Key material ${input.KeyMaterialId} is not associated with ${arn}.`);
        store.imported.delete(key, index >= 0 ? { index } : { pendingId: input.KeyMaterialId });
        return { KeyId: arn, KeyMaterialId: input.KeyMaterialId };
      }
      // "If no KeyMaterialId is specified, KMS deletes the current key material"; a key that never
      // had any is left as it is (the key state table: PendingImport, no effect).
      const index = key.materials.length - 1;
      const current = key.materials[index];
      if (!current) return { KeyId: arn };
      store.imported.delete(key, { index });
      return { KeyId: arn, KeyMaterialId: current.id };
    },
  ),
};

type ImportInput = {
  KeyId: string;
  ImportToken: Buffer;
  EncryptedKeyMaterial: Buffer;
  ValidTo?: number | undefined;
  ExpirationModel?: 'KEY_MATERIAL_EXPIRES' | 'KEY_MATERIAL_DOES_NOT_EXPIRE' | undefined;
  ImportType?: 'NEW_KEY_MATERIAL' | 'EXISTING_KEY_MATERIAL' | undefined;
  KeyMaterialDescription?: string | undefined;
  KeyMaterialId?: string | undefined;
};

function importKeyMaterial(input: ImportInput, store: KeyStore, access: LocalAccess) {
  const key = store.resolve(input.KeyId, false);
  // "The default is KEY_MATERIAL_EXPIRES."
  const expirationModel = input.ExpirationModel ?? 'KEY_MATERIAL_EXPIRES';
  // Condition keys kms:ExpirationModel and kms:ValidTo (epoch seconds; absent when the material
  // does not expire): https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html
  access.require(key, 'kms:ImportKeyMaterial', undefined, {
    'kms:ExpirationModel': [expirationModel],
    'kms:ValidTo': input.ValidTo === undefined ? [] : [String(input.ValidTo)],
  });
  requireExternal(store, key);
  requireNotPendingDeletion(store, key);
  const now = store.now().getTime();
  let validTo: number | undefined;
  if (expirationModel === 'KEY_MATERIAL_EXPIRES') {
    // "When the value of ExpirationModel is KEY_MATERIAL_EXPIRES, you must specify a value for the
    // ValidTo parameter"; "The value of this parameter must be a future date and time. The maximum
    // value is 365 days from the request date."
    if (input.ValidTo === undefined)
      throw validation('ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES.');
    validTo = Math.round(input.ValidTo * 1000);
    if (validTo <= now) throw validation('ValidTo must be a future date and time.');
    if (validTo > now + MAX_VALID_TO_MS)
      throw validation('ValidTo must be no more than 365 days from the request date.');
  } else if (input.ValidTo !== undefined) {
    throw validation('ValidTo is not valid when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE.');
  }
  const { keySpec } = specOf(key);
  const symmetric = keySpec === 'SYMMETRIC_DEFAULT';
  // ImportType, KeyMaterialDescription and KeyMaterialId are "only usable with symmetric encryption keys".
  if (
    !symmetric &&
    (input.ImportType !== undefined ||
      input.KeyMaterialDescription !== undefined ||
      input.KeyMaterialId !== undefined)
  ) {
    throw validation(
      'ImportType, KeyMaterialDescription and KeyMaterialId are only valid for symmetric encryption keys.',
    );
  }

  const token = store.importTokens.open(input.ImportToken);
  if (!token || token.keyId !== key.keyId) {
    token?.privateKey.fill(0);
    throw new KmsError(
      'InvalidImportTokenException',
      'The import token is invalid or is associated with a different KMS key.',
    );
  }
  let wrappingKey: KeyObject;
  try {
    if (token.validTo <= now)
      throw new KmsError('ExpiredImportTokenException', 'The import token has expired.');
    wrappingKey = createPrivateKey({ key: token.privateKey, format: 'der', type: 'pkcs8' });
  } finally {
    token.privateKey.fill(0);
  }
  const unwrapped = unwrapKeyMaterial(token.algorithm, wrappingKey, input.EncryptedKeyMaterial);
  if (!unwrapped) {
    // "From the ImportKeyMaterial operation, the request was rejected because KMS could not decrypt
    // the encrypted (wrapped) key material" (API_ImportKeyMaterial.html, Errors).
    throw new KmsError(
      'InvalidCiphertextException',
      `The encrypted key material could not be decrypted with the wrapping key and ${token.algorithm}.`,
    );
  }
  let material: Buffer | undefined;
  try {
    material = materialFor(keySpec, unwrapped);
    const id = store.imported.idOf(key.keyId, material);
    const target = importTarget(key, id, input, symmetric);
    store.imported.import(key, material, target, {
      id,
      expirationModel,
      ...(validTo !== undefined ? { validTo } : {}),
      ...(input.KeyMaterialDescription !== undefined ? { description: input.KeyMaterialDescription } : {}),
    });
    return { KeyId: store.keyArn(key.keyId), KeyMaterialId: id };
  } finally {
    unwrapped.fill(0);
    material?.fill(0);
  }
}

/**
 * Material pending rotation a key may hold. The KMS API reference documents no number: RotateKeyOnDemand
 * rotates to "new key material [whose] state should be PENDING_ROTATION", and such material "is not
 * permanently associated with the KMS key. You can delete this key material and import different key
 * material in its place" (API_RotateKeyOnDemand.html, API_RotationsListEntry.html), which reads as one
 * material waiting at a time. Without a bound each NEW_KEY_MATERIAL import grew the key's record (and
 * what a start unwraps) without end. A second one is refused with LimitExceededException, KMS's error
 * for a per-key limit, as is new material once the key has no on-demand rotation left to use it.
 */
export const MAX_PENDING_MATERIALS = 1;

/**
 * Where the material goes, by ImportType: "If no key material has ever been imported into the KMS
 * key, and this parameter is omitted, the parameter defaults to NEW_KEY_MATERIAL. After the first
 * key material is imported, if this parameter is omitted then the parameter defaults to
 * EXISTING_KEY_MATERIAL." New material is the key's first version, or, for a symmetric key that has
 * one, material pending rotation (RotateKeyOnDemand makes it current); asymmetric and HMAC keys
 * take one material only. Existing material must be material this key has had (the same id), and
 * a KeyMaterialId given must be that id.
 */
function importTarget(key: KeyRecord, id: string, input: ImportInput, symmetric: boolean): ImportTarget {
  const pending = key.pendingMaterials ?? [];
  const first = key.materials.length === 0 && pending.length === 0;
  const index = key.materials.findIndex((m) => m.id === id);
  const isPending = pending.some((m) => m.id === id);
  const type = input.ImportType ?? (first ? 'NEW_KEY_MATERIAL' : 'EXISTING_KEY_MATERIAL');
  if (type === 'NEW_KEY_MATERIAL') {
    if (input.KeyMaterialId !== undefined)
      throw validation('You cannot specify a KeyMaterialId with ImportType NEW_KEY_MATERIAL.');
    if (index >= 0 || isPending)
      throw incorrectMaterial(
        'This key material has already been imported into this KMS key; reimport it with ImportType EXISTING_KEY_MATERIAL.',
      );
    if (first) return { kind: 'first' };
    if (!symmetric) throw incorrectMaterial('Asymmetric and HMAC KMS keys take one key material only.');
    if (pending.length >= MAX_PENDING_MATERIALS) {
      throw new KmsError(
        'LimitExceededException',
        `${key.keyId} already has key material in PENDING_ROTATION; rotate to it (RotateKeyOnDemand) or delete it first.`,
      );
    }
    if (key.materials.filter((m) => m.rotationType === 'ON_DEMAND').length >= MAX_ON_DEMAND_ROTATIONS) {
      throw new KmsError(
        'LimitExceededException',
        `${key.keyId} has no on-demand rotations left (at most ${MAX_ON_DEMAND_ROTATIONS}); new key material could never become current.`,
      );
    }
    return { kind: 'pending' };
  }
  if (first) throw incorrectMaterial('No key material has been imported into this KMS key yet.');
  if ((input.KeyMaterialId !== undefined && input.KeyMaterialId !== id) || (index < 0 && !isPending)) {
    throw incorrectMaterial(
      'The key material in the request is not the same key material that was previously imported into this KMS key.',
    );
  }
  return index >= 0 ? { kind: 'version', index } : { kind: 'pending', id };
}
