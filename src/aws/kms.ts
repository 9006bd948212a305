import {
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  type EncryptionAlgorithmSpec,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  type KeyMetadata,
  KMSClient,
  type KMSClientConfig,
  ReEncryptCommand,
} from '@aws-sdk/client-kms';
import { DomainError, InvalidCiphertextError, KeyNotFoundError, ValidationError } from '../core/errors.js';
import { KEY_ORIGINS, KEY_SPECS, KEY_USAGES, type KeyKind } from '../core/key-kinds.js';
import type { KeyInfo, Keys } from '../ports.js';

/** A key's kind as KMS describes it; a spec, usage or origin the API does not offer is left out. */
export function kindOfMetadata(md: KeyMetadata | undefined): KeyKind | undefined {
  const spec = KEY_SPECS.find((s) => s === (md?.KeySpec ?? 'SYMMETRIC_DEFAULT'));
  const usage = KEY_USAGES.find((u) => u === (md?.KeyUsage ?? 'ENCRYPT_DECRYPT'));
  const origin = KEY_ORIGINS.find((o) => o === (md?.Origin ?? 'AWS_KMS'));
  return spec && usage && origin ? { spec, usage, origin } : undefined;
}

/**
 * Turns an AWS SDK KMS exception into the service's DomainError. Messages of KMS errors name keys
 * and states, never data, so they are safe to pass on.
 */
export function fromKmsError(error: unknown, keyId = ''): Error {
  if (error instanceof DomainError) return error;
  const name = (error as { name?: string })?.name ?? '';
  const message = (error as { message?: string })?.message ?? '';
  const options = { cause: error };
  switch (name) {
    case 'NotFoundException':
      return new KeyNotFoundError(keyId, options);
    case 'AlreadyExistsException':
      return new DomainError('AlreadyExists', message, undefined, options);
    case 'MalformedPolicyDocumentException':
      // KMS's lockout check is about the service's own role: it must keep managing the key.
      if (/will not allow you to update the key policy/i.test(message))
        return new DomainError(
          'PolicyLockout',
          "The policy would lock this service out of the key: keep the account root statement (Sid 'Enable IAM User Permissions') or name the service's role.",
          undefined,
          options,
        );
      return new ValidationError(`The key policy was refused: ${message}`);
    case 'DisabledException':
      return new DomainError('KeyDisabled', `The key ${keyId} is disabled.`, undefined, options);
    case 'KMSInvalidStateException':
      // A key with no material: created with origin EXTERNAL and not imported yet, its imported
      // material deleted, or expired (KMS: "... is pending import").
      if (/pending ?import/i.test(message))
        return new DomainError(
          'KeyPendingImport',
          `The key ${keyId} has no key material: import it (PUT /v1/keys/{keyId}/material) to use the key.`,
          undefined,
          options,
        );
      if (/not pending deletion/i.test(message))
        return new DomainError(
          'InvalidState',
          `The key ${keyId} is not pending deletion.`,
          undefined,
          options,
        );
      if (/pending deletion/i.test(message))
        return new DomainError(
          'KeyPendingDeletion',
          `The key ${keyId} is scheduled for deletion; cancel the deletion to use it.`,
          undefined,
          options,
        );
      if (/\bis disabled\b/i.test(message))
        return new DomainError('KeyDisabled', `The key ${keyId} is disabled.`, undefined, options);
      // Any other state KMS refuses (rotating an imported key with no material waiting, material
      // that cannot be used...): a neutral code, not a claim that the key is disabled.
      return new DomainError(
        'InvalidState',
        `The key ${keyId} is not in a state that allows this operation${message ? `: ${message}` : '.'}`,
        undefined,
        options,
      );
    case 'InvalidCiphertextException':
    case 'IncorrectKeyException':
      return new InvalidCiphertextError(options);
    case 'InvalidKeyUsageException':
      return new DomainError(
        'InvalidKeyUsage',
        `The key ${keyId} cannot be used for this operation.`,
        undefined,
        options,
      );
    case 'UnsupportedOperationException':
      return new DomainError(
        'UnsupportedOperation',
        `The key ${keyId} does not support this operation (its spec, usage or origin): ${message}`,
        undefined,
        options,
      );
    case 'InvalidImportTokenException':
      return new DomainError(
        'InvalidImportToken',
        `The import token is not valid for the key ${keyId} and this wrapped key material: use the token returned with the wrapping public key the material was wrapped with.`,
        undefined,
        options,
      );
    case 'ExpiredImportTokenException':
      return new DomainError(
        'ImportTokenExpired',
        'The import token has expired (import parameters are valid 24 hours): get new ones and wrap the material again.',
        undefined,
        options,
      );
    case 'IncorrectKeyMaterialException':
      return new DomainError(
        'IncorrectKeyMaterial',
        `This key material does not fit the key ${keyId}: a key takes only material of its key spec, and only the material first imported into it.`,
        undefined,
        options,
      );
    case 'AccessDeniedException':
      return new DomainError(
        'AccessDenied',
        `Not authorized to use the key ${keyId} for this operation.`,
        undefined,
        options,
      );
    case 'ValidationException':
    case 'InvalidMarkerException':
    case 'InvalidArnException':
    case 'InvalidGrantIdException':
    case 'InvalidGrantTokenException':
    case 'InvalidAliasNameException':
    case 'TagException':
    case 'SerializationException':
    case 'RequestEntityTooLargeException':
      return new ValidationError(message);
    case 'ThrottlingException':
    case 'LimitExceededException':
      return new DomainError(
        'Throttled',
        'KMS is throttling requests; retry with backoff.',
        undefined,
        options,
      );
    default:
      return new DomainError(
        'DependencyFailure',
        'The key service did not answer as expected.',
        undefined,
        options,
      );
  }
}

function arnOf(keyId: string | undefined): string {
  if (!keyId) throw new DomainError('DependencyFailure', 'KMS answered without a key id.');
  return keyId;
}

/** The `Keys` port over `@aws-sdk/client-kms`. */
export class KmsKeys implements Keys {
  constructor(readonly client: KMSClient) {}

  static fromConfig(config: KMSClientConfig): KmsKeys {
    return new KmsKeys(new KMSClient(config));
  }

  private async call<T>(keyId: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw fromKmsError(error, keyId);
    }
  }

  describe(keyId: string): Promise<KeyInfo> {
    return this.call(keyId, async () => {
      const out = await this.client.send(new DescribeKeyCommand({ KeyId: keyId }));
      const md = out.KeyMetadata;
      const kind = kindOfMetadata(md);
      return {
        arn: arnOf(md?.Arn),
        keyId: arnOf(md?.KeyId),
        state: (md?.KeyState ?? 'Unavailable') as KeyInfo['state'],
        description: md?.Description ?? '',
        ...(kind ? { kind } : {}),
      };
    });
  }

  encrypt(
    keyId: string,
    plaintext: Uint8Array,
    context: Record<string, string> | undefined,
    algorithm?: string,
  ) {
    return this.call(keyId, async () => {
      const out = await this.client.send(
        new EncryptCommand({
          KeyId: keyId,
          Plaintext: plaintext,
          EncryptionContext: context,
          ...(algorithm ? { EncryptionAlgorithm: algorithm as EncryptionAlgorithmSpec } : {}),
        }),
      );
      return {
        ciphertext: out.CiphertextBlob ?? new Uint8Array(),
        keyArn: arnOf(out.KeyId),
        algorithm: out.EncryptionAlgorithm,
      };
    });
  }

  decrypt(
    ciphertext: Uint8Array,
    context: Record<string, string> | undefined,
    keyId?: string,
    algorithm?: string,
  ) {
    return this.call(keyId ?? '', async () => {
      const out = await this.client.send(
        new DecryptCommand({
          CiphertextBlob: ciphertext,
          EncryptionContext: context,
          KeyId: keyId,
          ...(algorithm ? { EncryptionAlgorithm: algorithm as EncryptionAlgorithmSpec } : {}),
        }),
      );
      return {
        plaintext: out.Plaintext ?? new Uint8Array(),
        keyArn: arnOf(out.KeyId),
        algorithm: out.EncryptionAlgorithm,
      };
    });
  }

  reEncrypt(input: Parameters<Keys['reEncrypt']>[0]) {
    return this.call(input.destinationKeyId, async () => {
      const out = await this.client.send(
        new ReEncryptCommand({
          CiphertextBlob: input.ciphertext,
          SourceEncryptionContext: input.sourceContext,
          SourceKeyId: input.sourceKeyId,
          DestinationKeyId: input.destinationKeyId,
          DestinationEncryptionContext: input.destinationContext,
          ...(input.sourceAlgorithm
            ? { SourceEncryptionAlgorithm: input.sourceAlgorithm as EncryptionAlgorithmSpec }
            : {}),
          ...(input.destinationAlgorithm
            ? { DestinationEncryptionAlgorithm: input.destinationAlgorithm as EncryptionAlgorithmSpec }
            : {}),
        }),
      );
      return {
        ciphertext: out.CiphertextBlob ?? new Uint8Array(),
        sourceKeyArn: arnOf(out.SourceKeyId),
        keyArn: arnOf(out.KeyId),
        sourceAlgorithm: out.SourceEncryptionAlgorithm,
        destinationAlgorithm: out.DestinationEncryptionAlgorithm,
      };
    });
  }

  generateDataKey(input: Parameters<Keys['generateDataKey']>[0]) {
    return this.call(input.keyId, async () => {
      const params = {
        KeyId: input.keyId,
        EncryptionContext: input.context,
        NumberOfBytes: input.numberOfBytes,
      };
      if (!input.includePlaintext) {
        const out = await this.client.send(new GenerateDataKeyWithoutPlaintextCommand(params));
        return { ciphertext: out.CiphertextBlob ?? new Uint8Array(), keyArn: arnOf(out.KeyId) };
      }
      const out = await this.client.send(new GenerateDataKeyCommand(params));
      return {
        ciphertext: out.CiphertextBlob ?? new Uint8Array(),
        plaintext: out.Plaintext ?? new Uint8Array(),
        keyArn: arnOf(out.KeyId),
      };
    });
  }
}
