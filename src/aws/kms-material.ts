import {
  type AlgorithmSpec,
  DeleteImportedKeyMaterialCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  type KMSClient,
  type WrappingKeySpec,
} from '@aws-sdk/client-kms';
import { DomainError } from '../core/errors.js';
import type { KeyMaterial } from '../ports.js';
import { fromKmsError } from './kms.js';

/**
 * The `KeyMaterial` port over `@aws-sdk/client-kms`: import parameters, importing and deleting the
 * material of a key whose owner brings it. Nothing here is logged: the wrapped material and the
 * token only pass through.
 */
export class KmsKeyMaterial implements KeyMaterial {
  constructor(private readonly client: KMSClient) {}

  async importParameters(keyArn: string, wrappingKeySpec: string, wrappingAlgorithm: string) {
    try {
      const out = await this.client.send(
        new GetParametersForImportCommand({
          KeyId: keyArn,
          WrappingKeySpec: wrappingKeySpec as WrappingKeySpec,
          WrappingAlgorithm: wrappingAlgorithm as AlgorithmSpec,
        }),
      );
      if (!out.PublicKey || !out.ImportToken)
        throw new DomainError('DependencyFailure', 'KMS answered no wrapping key or import token.');
      return {
        publicKey: out.PublicKey,
        importToken: out.ImportToken,
        ...(out.ParametersValidTo ? { validTo: out.ParametersValidTo } : {}),
      };
    } catch (error) {
      throw fromKmsError(error, keyArn);
    }
  }

  async importMaterial(keyArn: string, input: Parameters<KeyMaterial['importMaterial']>[1]) {
    try {
      const out = await this.client.send(
        new ImportKeyMaterialCommand({
          KeyId: keyArn,
          ImportToken: input.importToken,
          EncryptedKeyMaterial: input.encryptedKeyMaterial,
          ExpirationModel: input.expirationModel,
          ...(input.validTo ? { ValidTo: input.validTo } : {}),
        }),
      );
      return out.KeyMaterialId ? { keyMaterialId: out.KeyMaterialId } : {};
    } catch (error) {
      // On import, KMS's InvalidCiphertextException is about the wrapped material, not a ciphertext.
      if ((error as { name?: string })?.name === 'InvalidCiphertextException')
        throw new DomainError(
          'InvalidKeyMaterial',
          'The wrapped key material does not unwrap with the wrapping key of this import token and its algorithm, or is not key material of this key spec.',
          undefined,
          { cause: error },
        );
      throw fromKmsError(error, keyArn);
    }
  }

  async deleteMaterial(keyArn: string): Promise<void> {
    try {
      await this.client.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyArn }));
    } catch (error) {
      throw fromKmsError(error, keyArn);
    }
  }
}
