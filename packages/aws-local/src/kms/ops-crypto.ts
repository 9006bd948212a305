import { randomBytes } from 'node:crypto';
import { contextByteLength, type EncryptionContext } from '@eaas/aws-rules';
import { z } from 'zod';
import type { LocalAccess } from './access.js';
import { isAsymmetricEncryptionKey, rsaAlgorithm, rsaDecrypt, rsaEncrypt } from './asymmetric-encryption.js';
import { openBlob, parseBlobHeader, sealBlob } from './ciphertext-blob.js';
import { KmsError, validation } from './errors.js';
import type { KeyRecord, KeyStore } from './key-store.js';
import {
  type Operation,
  operation,
  refuseDryRun,
  refuseRecipient,
  requireKeyUsage,
  requireUsable,
} from './operation.js';
import {
  blob,
  contextShape,
  dryRunShape,
  encryptionAlgorithmShape,
  grantTokensShape,
  keyIdShape,
} from './shapes.js';

/** Largest plaintext KMS Encrypt takes, and largest ciphertext blob it accepts. */
export const MAX_PLAINTEXT = 4096;
export const MAX_CIPHERTEXT = 6144;
/** Bound on an encryption context's canonical size. */
export const MAX_CONTEXT_BYTES = 8192;

/** kms:EncryptionAlgorithm, the condition key of the operations that encrypt or decrypt (conditions-kms.html). */
export const algorithmCondition = (algorithm: string | undefined) => ({
  'kms:EncryptionAlgorithm': [algorithm ?? 'SYMMETRIC_DEFAULT'],
});

export function checkContext(context: EncryptionContext | undefined): void {
  if (context !== undefined && contextByteLength(context) > MAX_CONTEXT_BYTES) {
    throw validation(`Encryption context is larger than ${MAX_CONTEXT_BYTES} bytes.`);
  }
}

function checkAlgorithm(algorithm: string | undefined): void {
  if (algorithm !== undefined && algorithm !== 'SYMMETRIC_DEFAULT') {
    throw new KmsError(
      'InvalidKeyUsageException',
      `${algorithm} is not a valid encryption algorithm for a SYMMETRIC_DEFAULT key.`,
    );
  }
}

function invalidCiphertext(): KmsError {
  return new KmsError(
    'InvalidCiphertextException',
    'The ciphertext is invalid, or it was not encrypted under this key with this encryption context.',
  );
}

export function encryptUnder(
  store: KeyStore,
  key: KeyRecord,
  plaintext: Uint8Array,
  context: EncryptionContext | undefined,
): Buffer {
  const index = key.materials.length - 1;
  return sealBlob(store.material(key, index), { keyId: key.keyId, materialIndex: index }, plaintext, context);
}

/**
 * Opens a ciphertext blob: the blob names its key and material version; a KeyId given by the
 * caller must be that key. Every failure of the blob itself is one InvalidCiphertextException.
 * With the KeyId of an RSA ENCRYPT_DECRYPT key, the ciphertext is RSAES-OAEP's, with no header.
 */
function decryptBlob(
  store: KeyStore,
  access: LocalAccess,
  action: string,
  ciphertext: Buffer,
  context: EncryptionContext | undefined,
  keyId: string | undefined,
  algorithm: string | undefined,
): { key: KeyRecord; plaintext: Buffer; algorithm: string } {
  const requested = keyId === undefined ? undefined : store.resolve(keyId, true);
  if (requested) {
    // A named key is authorized before anything about its kind or the ciphertext is checked: a
    // caller without rights on it learns nothing about it.
    access.require(requested, action, context, algorithmCondition(algorithm));
    requireUsable(store, requested);
    requireKeyUsage(store, requested, 'ENCRYPT_DECRYPT', action.slice(4));
  }
  if (requested && isAsymmetricEncryptionKey(requested)) {
    const name = rsaAlgorithm(requested, algorithm, context);
    const plaintext = rsaDecrypt(store, requested, name, ciphertext);
    if (!plaintext) throw invalidCiphertext();
    return { key: requested, plaintext, algorithm: name };
  }
  // Without the KeyId of an RSA key, the ciphertext must be a blob of this KMS (RSA ciphertext
  // has no header): anything else is InvalidCiphertextException, whatever the algorithm named.
  const head = parseBlobHeader(ciphertext);
  if (!head) throw invalidCiphertext();
  checkAlgorithm(algorithm);
  if (requested && requested.keyId !== head.keyId) {
    throw new KmsError(
      'IncorrectKeyException',
      'The key ID in the request does not identify a KMS key that can perform this operation.',
    );
  }
  const key = requested ?? store.findKey(head.keyId);
  if (!key) throw invalidCiphertext();
  if (!requested) {
    access.require(key, action, context, algorithmCondition(algorithm));
    requireUsable(store, key);
  }
  if (head.materialIndex >= key.materials.length) throw invalidCiphertext();
  const plaintext = openBlob(store.material(key, head.materialIndex), ciphertext, context);
  if (!plaintext) throw invalidCiphertext();
  return { key, plaintext, algorithm: 'SYMMETRIC_DEFAULT' };
}

const dataKeyInput = z.object({
  KeyId: keyIdShape,
  EncryptionContext: contextShape.optional(),
  NumberOfBytes: z.number().int().min(1).max(1024).optional(),
  KeySpec: z.enum(['AES_256', 'AES_128']).optional(),
  GrantTokens: grantTokensShape,
  DryRun: dryRunShape,
  Recipient: z.unknown().optional(),
});

function generateDataKey(
  input: z.output<typeof dataKeyInput>,
  store: KeyStore,
  access: LocalAccess,
  action: string,
) {
  refuseRecipient(input.Recipient);
  if (input.KeySpec !== undefined && input.NumberOfBytes !== undefined) {
    throw validation('Please specify either number of bytes or key spec, not both.');
  }
  if (input.KeySpec === undefined && input.NumberOfBytes === undefined) {
    throw validation('Please specify either number of bytes or key spec.');
  }
  checkContext(input.EncryptionContext);
  const key = store.resolve(input.KeyId, true);
  access.require(key, action, input.EncryptionContext, algorithmCondition(undefined));
  requireUsable(store, key);
  requireKeyUsage(store, key, 'ENCRYPT_DECRYPT', action.slice(4), true);
  refuseDryRun(input.DryRun);
  const length = input.NumberOfBytes ?? (input.KeySpec === 'AES_128' ? 16 : 32);
  const plaintext = randomBytes(length);
  const ciphertext = encryptUnder(store, key, plaintext, input.EncryptionContext);
  return { key, plaintext, ciphertext };
}

export const cryptoOperations: Record<string, Operation> = {
  Encrypt: operation(
    z.object({
      KeyId: keyIdShape,
      Plaintext: blob(1, MAX_PLAINTEXT),
      EncryptionContext: contextShape.optional(),
      GrantTokens: grantTokensShape,
      EncryptionAlgorithm: encryptionAlgorithmShape,
      DryRun: dryRunShape,
    }),
    (input, { store, access }) => {
      try {
        checkContext(input.EncryptionContext);
        const key = store.resolve(input.KeyId, true);
        access.require(
          key,
          'kms:Encrypt',
          input.EncryptionContext,
          algorithmCondition(input.EncryptionAlgorithm),
        );
        requireUsable(store, key);
        if (isAsymmetricEncryptionKey(key)) {
          const algorithm = rsaAlgorithm(key, input.EncryptionAlgorithm, input.EncryptionContext);
          const ciphertext = rsaEncrypt(store, key, algorithm, input.Plaintext, () =>
            refuseDryRun(input.DryRun),
          );
          return {
            CiphertextBlob: ciphertext.toString('base64'),
            KeyId: store.keyArn(key.keyId),
            EncryptionAlgorithm: algorithm,
          };
        }
        requireKeyUsage(store, key, 'ENCRYPT_DECRYPT', 'Encrypt', true);
        checkAlgorithm(input.EncryptionAlgorithm);
        refuseDryRun(input.DryRun);
        const ciphertext = encryptUnder(store, key, input.Plaintext, input.EncryptionContext);
        return {
          CiphertextBlob: ciphertext.toString('base64'),
          KeyId: store.keyArn(key.keyId),
          EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        };
      } finally {
        input.Plaintext.fill(0);
      }
    },
  ),

  Decrypt: operation(
    z.object({
      CiphertextBlob: blob(1, MAX_CIPHERTEXT),
      EncryptionContext: contextShape.optional(),
      GrantTokens: grantTokensShape,
      KeyId: keyIdShape.optional(),
      EncryptionAlgorithm: encryptionAlgorithmShape,
      Recipient: z.unknown().optional(),
      DryRun: dryRunShape,
    }),
    (input, { store, access }) => {
      refuseRecipient(input.Recipient);
      const { key, plaintext, algorithm } = decryptBlob(
        store,
        access,
        'kms:Decrypt',
        input.CiphertextBlob,
        input.EncryptionContext,
        input.KeyId,
        input.EncryptionAlgorithm,
      );
      if (input.DryRun) plaintext.fill(0);
      refuseDryRun(input.DryRun);
      const encoded = plaintext.toString('base64');
      plaintext.fill(0);
      return { KeyId: store.keyArn(key.keyId), Plaintext: encoded, EncryptionAlgorithm: algorithm };
    },
  ),

  ReEncrypt: operation(
    z.object({
      CiphertextBlob: blob(1, MAX_CIPHERTEXT),
      SourceEncryptionContext: contextShape.optional(),
      SourceKeyId: keyIdShape.optional(),
      DestinationKeyId: keyIdShape,
      DestinationEncryptionContext: contextShape.optional(),
      SourceEncryptionAlgorithm: encryptionAlgorithmShape,
      DestinationEncryptionAlgorithm: encryptionAlgorithmShape,
      GrantTokens: grantTokensShape,
      DryRun: dryRunShape,
    }),
    (input, { store, access }) => {
      checkContext(input.DestinationEncryptionContext);
      const destination = store.resolve(input.DestinationKeyId, true);
      // Authorized before anything about the key's kind is checked: a caller without rights on the
      // destination learns nothing about it.
      access.require(
        destination,
        'kms:ReEncryptTo',
        input.DestinationEncryptionContext,
        algorithmCondition(input.DestinationEncryptionAlgorithm),
      );
      const toRsa = isAsymmetricEncryptionKey(destination);
      if (!toRsa) {
        requireKeyUsage(store, destination, 'ENCRYPT_DECRYPT', 'ReEncrypt', true);
        checkAlgorithm(input.DestinationEncryptionAlgorithm);
      }
      const {
        key: source,
        plaintext,
        algorithm: sourceAlgorithm,
      } = decryptBlob(
        store,
        access,
        'kms:ReEncryptFrom',
        input.CiphertextBlob,
        input.SourceEncryptionContext,
        input.SourceKeyId,
        input.SourceEncryptionAlgorithm,
      );
      try {
        requireUsable(store, destination);
        let ciphertext: Buffer;
        let destinationAlgorithm = 'SYMMETRIC_DEFAULT';
        if (toRsa) {
          destinationAlgorithm = rsaAlgorithm(
            destination,
            input.DestinationEncryptionAlgorithm,
            input.DestinationEncryptionContext,
          );
          ciphertext = rsaEncrypt(store, destination, destinationAlgorithm, plaintext, () =>
            refuseDryRun(input.DryRun),
          );
        } else {
          refuseDryRun(input.DryRun);
          ciphertext = encryptUnder(store, destination, plaintext, input.DestinationEncryptionContext);
        }
        return {
          CiphertextBlob: ciphertext.toString('base64'),
          SourceKeyId: store.keyArn(source.keyId),
          KeyId: store.keyArn(destination.keyId),
          SourceEncryptionAlgorithm: sourceAlgorithm,
          DestinationEncryptionAlgorithm: destinationAlgorithm,
        };
      } finally {
        plaintext.fill(0);
      }
    },
  ),

  GenerateDataKey: operation(dataKeyInput, (input, { store, access }) => {
    const { key, plaintext, ciphertext } = generateDataKey(input, store, access, 'kms:GenerateDataKey');
    const encoded = plaintext.toString('base64');
    plaintext.fill(0);
    return {
      CiphertextBlob: ciphertext.toString('base64'),
      Plaintext: encoded,
      KeyId: store.keyArn(key.keyId),
    };
  }),

  GenerateDataKeyWithoutPlaintext: operation(dataKeyInput, (input, { store, access }) => {
    const { key, plaintext, ciphertext } = generateDataKey(
      input,
      store,
      access,
      'kms:GenerateDataKeyWithoutPlaintext',
    );
    plaintext.fill(0);
    return { CiphertextBlob: ciphertext.toString('base64'), KeyId: store.keyArn(key.keyId) };
  }),

  GenerateRandom: operation(
    z.object({
      NumberOfBytes: z.number().int().min(1).max(1024),
      CustomKeyStoreId: z.string().optional(),
      Recipient: z.unknown().optional(),
    }),
    (input, { access }) => {
      access.requireIam('kms:GenerateRandom');
      if (input.CustomKeyStoreId !== undefined || input.Recipient !== undefined) {
        throw new KmsError(
          'UnsupportedOperationException',
          'The local KMS has no custom key stores and no Nitro Enclaves attestation.',
        );
      }
      return { Plaintext: randomBytes(input.NumberOfBytes).toString('base64') };
    },
  ),
};
