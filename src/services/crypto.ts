import { contextsEqual, type EncryptionContext } from '@eaas/aws-rules';
import { DomainError, type ErrorCode, InvalidCiphertextError, PayloadTooLargeError } from '../core/errors.js';
import type { EnvelopeCodec, Keys } from '../ports.js';

/** Largest plaintext KMS Encrypt takes; above it the service uses envelope encryption. */
export const KMS_DIRECT_LIMIT = 4096;
/**
 * Largest plaintext the inline API takes: 4 MiB. Its base64 in a JSON request (5.6 MB) and the
 * base64 of the resulting message in the response both fit Lambda's 6 MB synchronous payload.
 */
export const INLINE_LIMIT = 4 * 1024 * 1024;
/** Largest KMS ciphertext blob KMS accepts. */
export const KMS_CIPHERTEXT_LIMIT = 6144;

export type CiphertextFormat = 'kms' | 'aws-encryption-sdk';

/**
 * Tells the two formats apart by their first bytes: an Encryption SDK message starts with its
 * version (0x02, or 0x01 followed by the type 0x80); anything else is taken as a KMS blob.
 */
export function formatOf(ciphertext: Uint8Array): CiphertextFormat {
  if (ciphertext[0] === 0x02) return 'aws-encryption-sdk';
  if (ciphertext[0] === 0x01 && ciphertext[1] === 0x80) return 'aws-encryption-sdk';
  return 'kms';
}

/** Failures that, on the decrypt path, all become the one InvalidCiphertext answer. */
const DECRYPT_UNIFORM: ReadonlySet<ErrorCode> = new Set([
  'InvalidCiphertext',
  'KeyNotFound',
  'KeyDisabled',
  'KeyPendingDeletion',
  'InvalidKeyUsage',
  'ValidationError',
]);

const STATE_CODES: ReadonlySet<ErrorCode> = new Set(['KeyDisabled', 'KeyPendingDeletion']);

function uniformDecryptError(error: unknown): unknown {
  if (error instanceof DomainError && !DECRYPT_UNIFORM.has(error.code)) return error;
  return new InvalidCiphertextError({ cause: error });
}

function tooLarge(size: number): PayloadTooLargeError {
  return new PayloadTooLargeError(
    `The payload is ${size} bytes; the inline API takes up to ${INLINE_LIMIT} bytes. Upload larger data with POST /v1/uploads.`,
  );
}

/**
 * Decides the caller's right to `action` on a key before KMS is called, and answers the key's
 * ARN; throws AccessDenied. Without a guard (in-process use, benchmarks) nothing is checked.
 */
export type KeyGuard = (
  keyId: string,
  action: string,
  context: EncryptionContext | undefined,
  conditions?: RequestConditions,
) => Promise<string>;

/**
 * Further condition keys of a request (kms:MessageType, kms:SigningAlgorithm, kms:MacAlgorithm),
 * computed once the key is resolved (they may depend on its kind: its default algorithm), before
 * the decision. A key listed with no values is known and absent.
 */
export type RequestConditions = (keyArn: string) => Promise<Readonly<Record<string, readonly string[]>>>;

const unguarded: KeyGuard = async (keyId) => keyId;

/**
 * Runs `check` on a result before it is handed out. A refusal zeroes `secret` and becomes the
 * uniform decrypt failure: a caller who did not name the key must not learn from a 403 that the
 * ciphertext and context were right (the decision is still audited).
 */
async function checkedBeforeRelease(check: () => Promise<unknown>, secret?: Uint8Array): Promise<void> {
  try {
    await check();
  } catch (error) {
    secret?.fill(0);
    throw new InvalidCiphertextError({ cause: error });
  }
}

/** Encrypt, decrypt, re-encrypt and data keys: the use cases behind the /v1 crypto routes. */
export class CryptoService {
  constructor(
    private readonly keys: Keys,
    private readonly envelope: EnvelopeCodec,
  ) {}

  async encrypt(
    keyId: string,
    plaintext: Uint8Array,
    context: EncryptionContext | undefined,
    guard: KeyGuard = unguarded,
  ) {
    if (plaintext.byteLength > INLINE_LIMIT) throw tooLarge(plaintext.byteLength);
    const keyArn = await guard(keyId, 'kms:Encrypt', context);
    if (plaintext.byteLength <= KMS_DIRECT_LIMIT) {
      const out = await this.keys.encrypt(keyArn, plaintext, context);
      return { ciphertext: out.ciphertext, keyArn: out.keyArn, format: 'kms' as const };
    }
    const out = await this.envelope.encrypt(keyArn, plaintext, context);
    return { ciphertext: out.message, keyArn: out.keyArn, format: 'aws-encryption-sdk' as const };
  }

  /**
   * Decrypts either format; every failure of the ciphertext, key or context is InvalidCiphertext.
   * The caller's right is checked before KMS when the key is known first (named by the caller, or
   * in an Encryption SDK message's header), and a refusal is 403. For a KMS blob with no key named
   * it is checked as soon as KMS names the key; the plaintext is zeroed unseen and the answer is
   * the uniform InvalidCiphertext, so that a 403 tells nobody the context was right.
   */
  async decrypt(
    ciphertext: Uint8Array,
    context: EncryptionContext | undefined,
    keyId?: string,
    guard: KeyGuard = unguarded,
    action = 'kms:Decrypt',
  ) {
    const format = formatOf(ciphertext);
    let namedKeyAllowed = false;
    try {
      const namedArn = keyId === undefined ? undefined : await guard(keyId, action, context);
      namedKeyAllowed = namedArn !== undefined;
      if (format === 'kms') {
        // Precondition: a KMS blob is at most 6144 bytes; anything longer cannot be one.
        if (ciphertext.byteLength > KMS_CIPHERTEXT_LIMIT) throw new InvalidCiphertextError();
        const out = await this.keys.decrypt(ciphertext, context, namedArn).catch((error: unknown) => {
          // KMS refusing the service's role a key the caller did not name (one outside this
          // deployment) says as little of the blob as any other failure: the uniform answer.
          if (namedArn === undefined && error instanceof DomainError && error.code === 'AccessDenied')
            throw new InvalidCiphertextError({ cause: error });
          throw error;
        });
        if (namedArn === undefined)
          await checkedBeforeRelease(() => guard(out.keyArn, action, context), out.plaintext);
        return { plaintext: out.plaintext, keyArn: out.keyArn, format };
      }
      const expectedArn =
        namedArn === undefined
          ? undefined
          : guard === unguarded
            ? (await this.keys.describe(namedArn)).arn
            : namedArn;
      const out = await this.envelope.decrypt(ciphertext, context, async (arn, kmsContext) => {
        // Precondition: the caller's right holds under the whole context KMS binds, which for a
        // signing suite has the Encryption SDK's aws-crypto-public-key besides the caller's pairs.
        if (namedArn === undefined || !contextsEqual(kmsContext, context))
          await guard(arn, action, kmsContext);
      });
      // Precondition: a key named by the caller is the key the message was made under.
      if (expectedArn !== undefined && out.keyArn !== expectedArn) {
        out.plaintext.fill(0);
        throw new InvalidCiphertextError();
      }
      return { plaintext: out.plaintext, keyArn: out.keyArn, format };
    } catch (error) {
      // The state of a key the caller named and may use is not a secret of the ciphertext.
      if (namedKeyAllowed && error instanceof DomainError && STATE_CODES.has(error.code)) throw error;
      throw uniformDecryptError(error);
    }
  }

  /** Moves a ciphertext to another key and context. The plaintext stays in this process and is zeroed. */
  async reEncrypt(
    input: {
      ciphertext: Uint8Array;
      destinationKeyId: string;
      context: EncryptionContext | undefined;
      destinationContext: EncryptionContext | undefined;
      sourceKeyId?: string | undefined;
    },
    guard: KeyGuard = unguarded,
  ) {
    const destinationContext = input.destinationContext ?? input.context;
    const format = formatOf(input.ciphertext);
    const destinationArn = await guard(input.destinationKeyId, 'kms:ReEncryptTo', destinationContext);
    if (format === 'kms') {
      if (input.ciphertext.byteLength > KMS_CIPHERTEXT_LIMIT) throw new InvalidCiphertextError();
      const sourceArn =
        input.sourceKeyId === undefined
          ? undefined
          : await guard(input.sourceKeyId, 'kms:ReEncryptFrom', input.context).catch((error: unknown) => {
              throw uniformDecryptError(error);
            });
      let out: Awaited<ReturnType<Keys['reEncrypt']>>;
      try {
        out = await this.keys.reEncrypt({
          ciphertext: input.ciphertext,
          sourceContext: input.context,
          ...(sourceArn !== undefined ? { sourceKeyId: sourceArn } : {}),
          destinationKeyId: destinationArn,
          destinationContext,
        });
      } catch (error) {
        throw await this.reEncryptFailure(error, destinationArn);
      }
      // The new ciphertext is withheld when the caller may not use the key it came from.
      if (sourceArn === undefined)
        await checkedBeforeRelease(
          () => guard(out.sourceKeyArn, 'kms:ReEncryptFrom', input.context),
          out.ciphertext,
        );
      return { ciphertext: out.ciphertext, sourceKeyArn: out.sourceKeyArn, keyArn: out.keyArn, format };
    }
    const opened = await this.decrypt(
      input.ciphertext,
      input.context,
      input.sourceKeyId,
      guard,
      'kms:ReEncryptFrom',
    );
    try {
      const sealed = await this.envelope.encrypt(destinationArn, opened.plaintext, destinationContext);
      return { ciphertext: sealed.message, sourceKeyArn: opened.keyArn, keyArn: sealed.keyArn, format };
    } finally {
      opened.plaintext.fill(0);
    }
  }

  /**
   * KMS ReEncrypt does not say whether the source or the destination failed. A destination problem
   * (missing, disabled, pending deletion) is the caller's to know; anything about the source is a
   * decrypt failure and gets the uniform answer.
   */
  private async reEncryptFailure(error: unknown, destinationKeyId: string): Promise<unknown> {
    if (
      !(error instanceof DomainError) ||
      !DECRYPT_UNIFORM.has(error.code) ||
      error.code === 'InvalidCiphertext'
    ) {
      return error;
    }
    const destination = await this.keys.describe(destinationKeyId);
    if (destination.state === 'Disabled') {
      return new DomainError('KeyDisabled', `The destination key ${destinationKeyId} is disabled.`);
    }
    if (destination.state === 'PendingDeletion') {
      return new DomainError(
        'KeyPendingDeletion',
        `The destination key ${destinationKeyId} is scheduled for deletion.`,
      );
    }
    return uniformDecryptError(error);
  }

  async dataKey(
    input: {
      keyId: string;
      keySpec?: 'AES_256' | 'AES_128' | undefined;
      numberOfBytes?: number | undefined;
      context: EncryptionContext | undefined;
      includePlaintext: boolean;
    },
    guard: KeyGuard = unguarded,
  ) {
    const numberOfBytes = input.numberOfBytes ?? (input.keySpec === 'AES_128' ? 16 : 32);
    const action = input.includePlaintext ? 'kms:GenerateDataKey' : 'kms:GenerateDataKeyWithoutPlaintext';
    const keyArn = await guard(input.keyId, action, input.context);
    return this.keys.generateDataKey({
      keyId: keyArn,
      context: input.context,
      numberOfBytes,
      includePlaintext: input.includePlaintext,
    });
  }
}
