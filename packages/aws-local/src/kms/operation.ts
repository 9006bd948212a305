import type { z } from 'zod';
import type { LocalAccess } from './access.js';
import { KmsError } from './errors.js';
import { algorithmsOf, type KeyUsage } from './key-specs.js';
import type { KeyRecord, KeyStore } from './key-store.js';
import { specOf } from './records.js';

/** Who is calling, as established by the SigV4 check. */
export interface Caller {
  arn: string;
  accountId: string;
}

export interface OperationContext {
  store: KeyStore;
  caller: Caller;
  /**
   * The caller's rights. Every operation decides through it (on its key, or by IAM) before it
   * acts; the server refuses to answer for an operation that did not.
   */
  access: LocalAccess;
}

/** One KMS operation: the shape of its input and what it does. */
export interface Operation {
  input: z.ZodType;
  run(input: never, ctx: OperationContext): unknown;
}

export function operation<S extends z.ZodType>(
  input: S,
  run: (input: z.output<S>, ctx: OperationContext) => unknown,
): Operation {
  return { input, run: run as Operation['run'] };
}

/** Epoch seconds, as the JSON 1.1 protocol carries timestamps. */
export const seconds = (ms: number): number => ms / 1000;

/** Precondition: the key can be used for cryptography (enabled, with material, not pending deletion). */
export function requireUsable(store: KeyStore, key: KeyRecord): void {
  if (key.keyState === 'Disabled')
    throw new KmsError('DisabledException', `${store.keyArn(key.keyId)} is disabled.`);
  if (key.keyState === 'PendingImport')
    throw new KmsError('KMSInvalidStateException', `${store.keyArn(key.keyId)} is pending import.`);
  requireNotPendingDeletion(store, key);
}

/**
 * Precondition: the key's usage (and, when given, spec family) fits the operation. KMS answers
 * InvalidKeyUsageException, e.g. for Encrypt with a SIGN_VERIFY key or GenerateDataKey with an
 * asymmetric one: https://docs.aws.amazon.com/kms/latest/APIReference/API_GenerateDataKey.html
 */
export function requireKeyUsage(
  store: KeyStore,
  key: KeyRecord,
  usage: KeyUsage,
  operationName: string,
  symmetricOnly = false,
): void {
  const { keySpec, keyUsage } = specOf(key);
  if (keyUsage !== usage || (symmetricOnly && keySpec !== 'SYMMETRIC_DEFAULT')) {
    throw new KmsError(
      'InvalidKeyUsageException',
      `${store.keyArn(key.keyId)} key usage is ${keyUsage} and key spec is ${keySpec}, which is not valid for ${operationName}.`,
    );
  }
}

/** Precondition: the key is not scheduled for deletion. */
export function requireNotPendingDeletion(store: KeyStore, key: KeyRecord): void {
  if (key.keyState === 'PendingDeletion') {
    throw new KmsError('KMSInvalidStateException', `${store.keyArn(key.keyId)} is pending deletion.`);
  }
}

export function keyMetadata(store: KeyStore, key: KeyRecord) {
  const current = key.materials[key.materials.length - 1];
  const { keySpec, keyUsage, origin } = specOf(key);
  return {
    AWSAccountId: store.accountId,
    KeyId: key.keyId,
    Arn: store.keyArn(key.keyId),
    CreationDate: seconds(key.createdAt),
    Enabled: key.keyState === 'Enabled',
    Description: key.description,
    KeyUsage: keyUsage,
    KeyState: key.keyState,
    ...(key.deletionDate !== undefined ? { DeletionDate: seconds(key.deletionDate) } : {}),
    ...(key.pendingWindowInDays !== undefined
      ? { PendingDeletionWindowInDays: key.pendingWindowInDays }
      : {}),
    Origin: origin,
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: keySpec,
    KeySpec: keySpec,
    ...algorithmsOf(keySpec, keyUsage),
    MultiRegion: false,
    ...(origin === 'EXTERNAL' ? importedMetadata(key) : {}),
    // "present for symmetric encryption keys with AWS_KMS or EXTERNAL origin" (KeyMetadata,
    // https://docs.aws.amazon.com/kms/latest/APIReference/API_KeyMetadata.html)
    ...(current && keySpec === 'SYMMETRIC_DEFAULT' ? { CurrentKeyMaterialId: current.id } : {}),
  };
}

/**
 * KeyMetadata's ExpirationModel ("present only when Origin is EXTERNAL") and ValidTo ("The earliest
 * time at which any imported key material permanently associated with this KMS key expires"):
 * https://docs.aws.amazon.com/kms/latest/APIReference/API_KeyMetadata.html
 */
function importedMetadata(key: KeyRecord) {
  const model = key.materials[key.materials.length - 1]?.expirationModel;
  const ends = key.materials.flatMap((m) =>
    m.validTo !== undefined && m.wrapped !== undefined ? [m.validTo] : [],
  );
  return {
    ...(model ? { ExpirationModel: model } : {}),
    ...(ends.length > 0 ? { ValidTo: seconds(Math.min(...ends)) } : {}),
  };
}

/** DryRun: the request would have succeeded; KMS answers DryRunOperationException instead of acting. */
export function refuseDryRun(requested: boolean | undefined): void {
  if (requested) {
    throw new KmsError(
      'DryRunOperationException',
      'The request would have succeeded, but the DryRun option is set.',
    );
  }
}

/** Nitro Enclaves attestation (`Recipient`), which the local KMS does not have: UnsupportedOperationException. */
export function refuseRecipient(recipient: unknown): void {
  if (recipient !== undefined) {
    throw new KmsError(
      'UnsupportedOperationException',
      'The local KMS does not support Nitro Enclaves attestation (Recipient).',
    );
  }
}
