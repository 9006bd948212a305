import {
  GenerateMacCommand,
  GetPublicKeyCommand,
  type KMSClient,
  type MacAlgorithmSpec,
  SignCommand,
  type SigningAlgorithmSpec,
  VerifyCommand,
  VerifyMacCommand,
} from '@aws-sdk/client-kms';
import { DomainError } from '../core/errors.js';
import type { SigningKeys } from '../ports.js';
import { fromKmsError } from './kms.js';

const nameOf = (error: unknown) => (error as { name?: string })?.name ?? '';

function arnOf(keyId: string | undefined): string {
  if (!keyId) throw new DomainError('DependencyFailure', 'KMS answered without a key id.');
  return keyId;
}

/**
 * The `SigningKeys` port over `@aws-sdk/client-kms`: Sign, Verify, GenerateMac, VerifyMac and
 * GetPublicKey. KMS answers a signature or MAC that does not verify with an exception
 * (KMSInvalidSignatureException, KMSInvalidMacException); here it is the answer `valid: false`,
 * the question having been answered.
 */
export class KmsSigning implements SigningKeys {
  constructor(private readonly client: KMSClient) {}

  private async call<T>(keyId: string, run: () => Promise<T>, invalid?: string, whenInvalid?: T): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (invalid !== undefined && nameOf(error) === invalid) return whenInvalid as T;
      throw fromKmsError(error, keyId);
    }
  }

  sign(input: Parameters<SigningKeys['sign']>[0]) {
    return this.call(input.keyId, async () => {
      const out = await this.client.send(
        new SignCommand({
          KeyId: input.keyId,
          Message: input.message,
          MessageType: input.messageType,
          SigningAlgorithm: input.algorithm as SigningAlgorithmSpec,
        }),
      );
      return { signature: out.Signature ?? new Uint8Array(), keyArn: arnOf(out.KeyId) };
    });
  }

  verify(input: Parameters<SigningKeys['verify']>[0]) {
    return this.call(
      input.keyId,
      async () => {
        const out = await this.client.send(
          new VerifyCommand({
            KeyId: input.keyId,
            Message: input.message,
            MessageType: input.messageType,
            Signature: input.signature,
            SigningAlgorithm: input.algorithm as SigningAlgorithmSpec,
          }),
        );
        return { valid: out.SignatureValid === true, keyArn: arnOf(out.KeyId) };
      },
      'KMSInvalidSignatureException',
      { valid: false, keyArn: input.keyId },
    );
  }

  generateMac(input: Parameters<SigningKeys['generateMac']>[0]) {
    return this.call(input.keyId, async () => {
      const out = await this.client.send(
        new GenerateMacCommand({
          KeyId: input.keyId,
          Message: input.message,
          MacAlgorithm: input.algorithm as MacAlgorithmSpec,
        }),
      );
      return { mac: out.Mac ?? new Uint8Array(), keyArn: arnOf(out.KeyId) };
    });
  }

  verifyMac(input: Parameters<SigningKeys['verifyMac']>[0]) {
    return this.call(
      input.keyId,
      async () => {
        const out = await this.client.send(
          new VerifyMacCommand({
            KeyId: input.keyId,
            Message: input.message,
            Mac: input.mac,
            MacAlgorithm: input.algorithm as MacAlgorithmSpec,
          }),
        );
        return { valid: out.MacValid === true, keyArn: arnOf(out.KeyId) };
      },
      'KMSInvalidMacException',
      { valid: false, keyArn: input.keyId },
    );
  }

  publicKey(keyId: string) {
    return this.call(keyId, async () => {
      const out = await this.client.send(new GetPublicKeyCommand({ KeyId: keyId }));
      return { publicKey: out.PublicKey ?? new Uint8Array(), keyArn: arnOf(out.KeyId) };
    });
  }
}
