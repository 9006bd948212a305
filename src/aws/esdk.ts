import { buildDecrypt } from '@aws-crypto/decrypt-node';
import { buildEncrypt } from '@aws-crypto/encrypt-node';
import { type AwsEsdkKMSInterface, KmsKeyringClass } from '@aws-crypto/kms-keyring';
import {
  AlgorithmSuiteIdentifier,
  CommitmentPolicy,
  immutableClass,
  KeyringNode,
  type NodeAlgorithmSuite,
} from '@aws-crypto/material-management-node';
import { DecryptCommand, EncryptCommand, GenerateDataKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { contextsEqual, type EncryptionContext } from '@eaas/aws-rules';
import { DomainError, InvalidCiphertextError, KeyNotFoundError } from '../core/errors.js';
import type { EnvelopeCodec } from '../ports.js';
import { fromKmsError } from './kms.js';

/** Committing suite without a signature: AES-256-GCM, HKDF-SHA512, key commitment (0x0478). */
export const ESDK_SUITE = AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY;
/** 64 KiB frames: 4-5x faster than 4 KiB frames on Node 20 with AES-NI. */
export const ESDK_FRAME_LENGTH = 64 * 1024;
/** Keys the Encryption SDK adds to a message's context by itself. */
const ESDK_RESERVED = 'aws-crypto-';

// The Encryption SDK's encrypt and decrypt modules only (not @aws-crypto/client-node, whose
// other keyrings bring a DynamoDB client into the bundle).
const POLICY = {
  commitmentPolicy: CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
  maxEncryptedDataKeys: 1,
};
const { encrypt } = buildEncrypt(POLICY);
const { decrypt } = buildDecrypt(POLICY);

/**
 * The KMS keyring for Node, composed as `@aws-crypto/kms-keyring-node` composes its
 * `KmsKeyringNode` (`KmsKeyringClass(KeyringNode)`, made immutable), without that module's default
 * client provider: ours always names our client, and the default's aggregate `KMS` client (every
 * KMS command) would otherwise sit in the bundle.
 */
class KmsKeyringNode extends KmsKeyringClass<NodeAlgorithmSuite, AwsEsdkKMSInterface>(
  // KeyringNode is abstract in its types; KmsKeyringClass implements it (as the SDK casts it too).
  KeyringNode as unknown as new () => KeyringNode,
) {}
immutableClass(KmsKeyringNode);

type KmsFacade = AwsEsdkKMSInterface;

/**
 * Whether a KMS failure says nothing of the ciphertext and the caller should retry: throttling, or
 * KMS not answering as a service (a 5xx, or no answer at all). Everything else a decrypt meets (a
 * refused, disabled or unknown key, a bad blob) is the one InvalidCiphertext.
 */
function transient(mapped: Error, raw: unknown): mapped is DomainError {
  if (!(mapped instanceof DomainError)) return false;
  if (mapped.code === 'Throttled') return true;
  const status = (raw as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  return mapped.code === 'DependencyFailure' && (status === undefined || status >= 500);
}

/**
 * The three KMS calls a KMS keyring makes, over our client, with SDK errors translated. The
 * keyring swallows what its client throws on decrypt; `onTransient` keeps a throttling or an
 * outage aside, so that it reaches the caller as 429 or 502, not as InvalidCiphertext.
 */
function keyringClient(
  kms: KMSClient,
  beforeDecrypt?: (keyArn: string, kmsContext: EncryptionContext) => Promise<void>,
  onTransient?: (error: DomainError) => void,
): KmsFacade {
  const guard = async <T>(keyId: string | undefined, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      const mapped = fromKmsError(error, keyId ?? '');
      if (onTransient && transient(mapped, error)) onTransient(mapped);
      throw mapped;
    }
  };
  return {
    generateDataKey: (args) => guard(args.KeyId, () => kms.send(new GenerateDataKeyCommand(args))),
    encrypt: (args) => guard(args.KeyId, () => kms.send(new EncryptCommand(args))),
    decrypt: async (args) => {
      // Precondition: the caller may use the key the message names, under the whole context KMS
      // binds (a signing suite's aws-crypto-public-key included), before KMS unwraps anything.
      if (beforeDecrypt) await beforeDecrypt(args.KeyId ?? '', { ...args.EncryptionContext });
      return guard(args.KeyId, () => kms.send(new DecryptCommand(args)));
    },
  } as KmsFacade;
}

function withoutReserved(context: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(context).filter(([k]) => !k.startsWith(ESDK_RESERVED)));
}

/**
 * AWS Encryption SDK messages with a KMS keyring over our KMS client: any Encryption SDK
 * (or `aws-encryption-cli`) with access to the key can read what this writes, and vice versa.
 */
export class EsdkEnvelope implements EnvelopeCodec {
  private readonly client: KmsFacade;

  /**
   * `discovery`: the only account (and partition) whose keys a message may name to be decrypted;
   * a data key wrapped under any other account's key is skipped before the service asks anything
   * of KMS (no DescribeKey or Decrypt across accounts for a crafted header), so such a message is
   * the uniform InvalidCiphertext. Undefined: any account (tests, benchmarks).
   */
  constructor(
    private readonly kms: KMSClient,
    private readonly maxMessageBytes: number,
    private readonly discovery?: { accountIDs: string[]; partition: string },
  ) {
    this.client = keyringClient(kms);
  }

  async encrypt(keyId: string, plaintext: Uint8Array, context: EncryptionContext | undefined) {
    let out: Awaited<ReturnType<typeof encrypt>>;
    try {
      const keyring = new KmsKeyringNode({ generatorKeyId: keyId, clientProvider: () => this.client });
      out = await encrypt(keyring, plaintext, {
        encryptionContext: { ...context },
        suiteId: ESDK_SUITE,
        frameLength: ESDK_FRAME_LENGTH,
        plaintextLength: plaintext.byteLength,
      });
    } catch (error) {
      if (error instanceof DomainError) throw error;
      // The keyring refuses key ids it cannot parse as KMS would: no such key.
      if (/arn|key ?id/i.test((error as Error)?.message ?? ''))
        throw new KeyNotFoundError(keyId, { cause: error });
      throw error;
    }
    const keyArn = out.messageHeader.encryptedDataKeys[0]?.providerInfo;
    if (!keyArn)
      throw new DomainError('DependencyFailure', 'The Encryption SDK produced no encrypted data key.');
    return { message: out.result, keyArn };
  }

  async decrypt(
    message: Uint8Array,
    context: EncryptionContext | undefined,
    beforeKms?: (keyArn: string, kmsContext: EncryptionContext) => Promise<void>,
  ) {
    // The keyring swallows its client's errors into one of its own; a refusal and an outage are
    // kept aside to rethrow.
    let refusal: unknown;
    const check = beforeKms
      ? async (keyArn: string, kmsContext: EncryptionContext) => {
          try {
            await beforeKms(keyArn, kmsContext);
          } catch (error) {
            refusal ??= error;
            throw error;
          }
        }
      : undefined;
    let outage: DomainError | undefined;
    const client = keyringClient(this.kms, check, (error) => {
      outage ??= error;
    });
    const keyring = new KmsKeyringNode({
      discovery: true,
      ...(this.discovery ? { discoveryFilter: this.discovery } : {}),
      clientProvider: () => client,
    });
    let out: Awaited<ReturnType<typeof decrypt>>;
    try {
      out = await decrypt(keyring, message, { maxBodySize: this.maxMessageBytes });
    } catch (error) {
      if (refusal !== undefined) throw refusal;
      // KMS throttled or failed: nothing is known of the ciphertext; the caller retries.
      if (outage !== undefined) throw outage;
      if (error instanceof DomainError && error.code !== 'InvalidCiphertext') throw error;
      throw new InvalidCiphertextError({ cause: error });
    }
    const stored = withoutReserved(out.messageHeader.encryptionContext);
    // Precondition: the caller names the context the message was made with, exactly as KMS requires.
    if (!contextsEqual(stored, context ?? {})) {
      out.plaintext.fill(0);
      throw new InvalidCiphertextError();
    }
    const keyArn = out.messageHeader.encryptedDataKeys[0]?.providerInfo ?? '';
    return { plaintext: out.plaintext, keyArn, context: stored };
  }
}
