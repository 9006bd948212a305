import { contextsEqual, type EncryptionContext } from '@eaas/aws-rules';
import {
  DomainError,
  type ErrorCode,
  InvalidCiphertextError,
  PayloadTooLargeError,
  ValidationError,
} from '../core/errors.js';
import {
  isRsaEncryptionAlgorithm,
  isRsaEncryptionKind,
  type KeyKind,
  RSA_ENCRYPTION_ALGORITHMS,
  type RsaEncryptionAlgorithm,
  rsaPlaintextLimit,
  SYMMETRIC,
} from '../core/key-kinds.js';
import type { EnvelopeCodec, Keys } from '../ports.js';
import { MAX_CACHE_ENTRIES } from './ttl-cache.js';

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
 * version (0x02, or 0x01 followed by the type 0x80); anything else is taken as a KMS blob. An RSA
 * ciphertext (RSAES-OAEP's bare output, any first byte, 0x02 included) is a KMS ciphertext: the
 * caller says so by naming its RSA algorithm.
 */
export function formatOf(ciphertext: Uint8Array, algorithm?: string): CiphertextFormat {
  if (isRsaEncryptionAlgorithm(algorithm)) return 'kms';
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

const hasPairs = (context: EncryptionContext | undefined) =>
  context !== undefined && Object.keys(context).length > 0;

/**
 * Precondition of a request naming an RSA algorithm, decided from the request alone (so before
 * any key is looked at): KMS binds no encryption context to an RSA ciphertext ("supported only on
 * operations with symmetric encryption KMS keys", API_Encrypt), and it refuses one.
 */
function refuseContextWithRsa(
  algorithm: string | undefined,
  context: EncryptionContext | undefined,
  field: string,
): void {
  if (isRsaEncryptionAlgorithm(algorithm) && hasPairs(context))
    throw new ValidationError(
      `${algorithm} encrypts with an RSA key, which takes no encryption context: leave out ${field} (KMS binds none to an RSA ciphertext).`,
    );
}

const describeKind = (kind: KeyKind) => `a ${kind.spec} key for ${kind.usage}`;

/** The algorithm a ciphertext of this service was made with, as the answers name it. */
export type AnsweredAlgorithm = 'SYMMETRIC_DEFAULT' | RsaEncryptionAlgorithm;

const rsaOrSymmetric = (algorithm: string | undefined): AnsweredAlgorithm =>
  isRsaEncryptionAlgorithm(algorithm) ? algorithm : 'SYMMETRIC_DEFAULT';

/**
 * Encrypt, decrypt, re-encrypt and data keys: the use cases behind the /v1 crypto routes.
 *
 * RSA keys for ENCRYPT_DECRYPT encrypt with RSAES-OAEP when the caller names the algorithm
 * (`RSAES_OAEP_SHA_256` or `RSAES_OAEP_SHA_1`): there is no default, because the ciphertext has no
 * header, decrypting needs the very algorithm it was made with, and the tools that encrypt with
 * the public key offline default to SHA-1 (OpenSSL's and node:crypto's OAEP) where KMS users
 * mostly pick SHA-256; a wrong guess would only show as an InvalidCiphertext later. Such a key
 * encrypts at most a few hundred bytes (`rsaPlaintextLimit`); a longer plaintext is 413, never an
 * envelope (which an RSA key cannot wrap a data key for in KMS: GenerateDataKey takes symmetric
 * keys only).
 */
export class CryptoService {
  /** Kinds of keys, read once each: a key's spec and usage never change. */
  private readonly kinds = new Map<string, KeyKind>();

  constructor(
    private readonly keys: Keys,
    private readonly envelope: EnvelopeCodec,
  ) {}

  private async kindOf(keyArn: string): Promise<KeyKind> {
    const known = this.kinds.get(keyArn);
    if (known) return known;
    // Absent: a key described without its kind (a symmetric key KMS made, as the fakes have it).
    const kind = (await this.keys.describe(keyArn)).kind ?? SYMMETRIC;
    if (this.kinds.size >= MAX_CACHE_ENTRIES) this.kinds.clear();
    this.kinds.set(keyArn, kind);
    return kind;
  }

  /** The refusal of an RSA algorithm with a key that is not RSA for ENCRYPT_DECRYPT, or none. */
  private async rsaKindOf(keyArn: string, keyId: string, algorithm: RsaEncryptionAlgorithm) {
    const kind = await this.kindOf(keyArn);
    if (!isRsaEncryptionKind(kind))
      throw new DomainError(
        'InvalidKeyUsage',
        `The key ${keyId} is ${describeKind(kind)}; ${algorithm} takes an RSA key for ENCRYPT_DECRYPT.`,
      );
    return kind;
  }

  /**
   * The clear refusal of a symmetric operation on an RSA encryption key (which takes an algorithm),
   * or undefined when the key is not one. Only ever told to a caller allowed the action.
   */
  private async rsaWithoutAlgorithm(keyArn: string, keyId: string): Promise<DomainError | undefined> {
    const kind = await this.kindOf(keyArn);
    if (!isRsaEncryptionKind(kind)) return undefined;
    return new DomainError(
      'InvalidKeyUsage',
      `The key ${keyId} is ${describeKind(kind)}: name its encryptionAlgorithm, ${RSA_ENCRYPTION_ALGORITHMS.join(' or ')} (with no encryption context).`,
    );
  }

  /** Precondition of an envelope under `keyArn`: the key is symmetric (KMS wraps data keys under no other). */
  private async requireEnvelopeKey(keyArn: string, keyId: string): Promise<void> {
    const refusal = await this.rsaWithoutAlgorithm(keyArn, keyId);
    if (refusal) throw refusal;
  }

  private static rsaLimit(size: number, keyId: string, kind: KeyKind, algorithm: RsaEncryptionAlgorithm) {
    const max = rsaPlaintextLimit(kind.spec, algorithm) ?? 0;
    if (size > max)
      throw new PayloadTooLargeError(
        `The plaintext is ${size} bytes; ${algorithm} under the ${kind.spec} key ${keyId} encrypts at most ${max} bytes (RSA encrypts a key or a short secret; encrypt longer data under a symmetric key).`,
      );
  }

  async encrypt(
    keyId: string,
    plaintext: Uint8Array,
    context: EncryptionContext | undefined,
    guard: KeyGuard = unguarded,
    algorithm?: string,
  ) {
    if (plaintext.byteLength > INLINE_LIMIT) throw tooLarge(plaintext.byteLength);
    refuseContextWithRsa(algorithm, context, 'context');
    const keyArn = await guard(
      keyId,
      'kms:Encrypt',
      isRsaEncryptionAlgorithm(algorithm) ? undefined : context,
    );
    if (isRsaEncryptionAlgorithm(algorithm)) {
      const kind = await this.rsaKindOf(keyArn, keyId, algorithm);
      CryptoService.rsaLimit(plaintext.byteLength, keyId, kind, algorithm);
      const out = await this.keys.encrypt(keyArn, plaintext, undefined, algorithm);
      return { ciphertext: out.ciphertext, keyArn: out.keyArn, format: 'kms' as const, algorithm };
    }
    if (plaintext.byteLength <= KMS_DIRECT_LIMIT) {
      const out = await this.keys.encrypt(keyArn, plaintext, context).catch(async (error: unknown) => {
        if (error instanceof DomainError && error.code === 'InvalidKeyUsage')
          throw (await this.rsaWithoutAlgorithm(keyArn, keyId)) ?? error;
        throw error;
      });
      return {
        ciphertext: out.ciphertext,
        keyArn: out.keyArn,
        format: 'kms' as const,
        algorithm: 'SYMMETRIC_DEFAULT' as const,
      };
    }
    await this.requireEnvelopeKey(keyArn, keyId);
    const out = await this.envelope.encrypt(keyArn, plaintext, context);
    return {
      ciphertext: out.message,
      keyArn: out.keyArn,
      format: 'aws-encryption-sdk' as const,
      algorithm: 'SYMMETRIC_DEFAULT' as const,
    };
  }

  /**
   * Decrypts either format; every failure of the ciphertext, key or context is InvalidCiphertext.
   * The caller's right is checked before KMS when the key is known first (named by the caller, or
   * in an Encryption SDK message's header), and a refusal is 403. For a KMS blob with no key named
   * it is checked as soon as KMS names the key; the plaintext is zeroed unseen and the answer is
   * the uniform InvalidCiphertext, so that a 403 tells nobody the context was right.
   *
   * An RSA ciphertext names no key: with an RSA `algorithm` the caller names the key too, and the
   * ciphertext goes to KMS as it is, whatever its first byte (never taken for an SDK message).
   */
  async decrypt(
    ciphertext: Uint8Array,
    context: EncryptionContext | undefined,
    keyId?: string,
    guard: KeyGuard = unguarded,
    action = 'kms:Decrypt',
    algorithm?: string,
  ) {
    const rsa = isRsaEncryptionAlgorithm(algorithm) ? algorithm : undefined;
    if (rsa && keyId === undefined)
      throw new ValidationError(
        `An ${rsa} ciphertext names no key: say which RSA key it was encrypted under (keyId).`,
      );
    refuseContextWithRsa(rsa, context, 'context');
    const format = formatOf(ciphertext, rsa);
    let namedKeyAllowed = false;
    try {
      const namedArn =
        keyId === undefined ? undefined : await guard(keyId, action, rsa ? undefined : context);
      namedKeyAllowed = namedArn !== undefined;
      if (format === 'kms') {
        // Precondition: a KMS blob is at most 6144 bytes; anything longer cannot be one.
        if (ciphertext.byteLength > KMS_CIPHERTEXT_LIMIT) throw new InvalidCiphertextError();
        const out = await this.keys
          .decrypt(ciphertext, rsa ? undefined : context, namedArn, rsa)
          .catch((error: unknown) => {
            // KMS refusing the service's role a key the caller did not name (one outside this
            // deployment) says as little of the blob as any other failure: the uniform answer.
            if (namedArn === undefined && error instanceof DomainError && error.code === 'AccessDenied')
              throw new InvalidCiphertextError({ cause: error });
            throw error;
          });
        if (namedArn === undefined)
          await checkedBeforeRelease(() => guard(out.keyArn, action, context), out.plaintext);
        return { plaintext: out.plaintext, keyArn: out.keyArn, format, algorithm: rsaOrSymmetric(rsa) };
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
      return {
        plaintext: out.plaintext,
        keyArn: out.keyArn,
        format,
        algorithm: 'SYMMETRIC_DEFAULT' as AnsweredAlgorithm,
      };
    } catch (error) {
      // The state of a key the caller named and may use is not a secret of the ciphertext.
      if (namedKeyAllowed && error instanceof DomainError && STATE_CODES.has(error.code)) throw error;
      throw uniformDecryptError(error);
    }
  }

  /**
   * Moves a ciphertext to another key and context. The plaintext stays in this process and is zeroed.
   * `sourceAlgorithm` names an RSA source ciphertext's algorithm (with `sourceKeyId`, and no
   * `context`); `destinationAlgorithm` encrypts under an RSA destination key (no
   * `destinationContext`, and `context` is not carried over to it).
   */
  async reEncrypt(
    input: {
      ciphertext: Uint8Array;
      destinationKeyId: string;
      context: EncryptionContext | undefined;
      destinationContext: EncryptionContext | undefined;
      sourceKeyId?: string | undefined;
      sourceAlgorithm?: string | undefined;
      destinationAlgorithm?: string | undefined;
    },
    guard: KeyGuard = unguarded,
  ) {
    const sourceRsa = isRsaEncryptionAlgorithm(input.sourceAlgorithm) ? input.sourceAlgorithm : undefined;
    const destinationRsa = isRsaEncryptionAlgorithm(input.destinationAlgorithm)
      ? input.destinationAlgorithm
      : undefined;
    if (sourceRsa && input.sourceKeyId === undefined)
      throw new ValidationError(
        `An ${sourceRsa} ciphertext names no key: say which RSA key it was encrypted under (sourceKeyId).`,
      );
    refuseContextWithRsa(sourceRsa, input.context, 'context');
    refuseContextWithRsa(destinationRsa, input.destinationContext, 'destinationContext');
    const destinationContext = destinationRsa ? undefined : (input.destinationContext ?? input.context);
    const format = formatOf(input.ciphertext, sourceRsa);
    const destinationArn = await guard(input.destinationKeyId, 'kms:ReEncryptTo', destinationContext);
    // The destination's kind, to a caller allowed to re-encrypt to it.
    const destinationKind = destinationRsa
      ? await this.rsaKindOf(destinationArn, input.destinationKeyId, destinationRsa)
      : undefined;
    const algorithms = {
      sourceAlgorithm: rsaOrSymmetric(sourceRsa),
      destinationAlgorithm: rsaOrSymmetric(destinationRsa),
    };
    if (format === 'kms') {
      if (input.ciphertext.byteLength > KMS_CIPHERTEXT_LIMIT) throw new InvalidCiphertextError();
      const sourceArn =
        input.sourceKeyId === undefined
          ? undefined
          : await guard(input.sourceKeyId, 'kms:ReEncryptFrom', sourceRsa ? undefined : input.context).catch(
              (error: unknown) => {
                throw uniformDecryptError(error);
              },
            );
      let out: Awaited<ReturnType<Keys['reEncrypt']>>;
      try {
        out = await this.keys.reEncrypt({
          ciphertext: input.ciphertext,
          sourceContext: sourceRsa ? undefined : input.context,
          ...(sourceArn !== undefined ? { sourceKeyId: sourceArn } : {}),
          destinationKeyId: destinationArn,
          destinationContext,
          ...(sourceRsa ? { sourceAlgorithm: sourceRsa } : {}),
          ...(destinationRsa ? { destinationAlgorithm: destinationRsa } : {}),
        });
      } catch (error) {
        throw await this.reEncryptFailure(error, destinationArn, {
          destinationKeyId: input.destinationKeyId,
          destinationRsa,
          // A caller who named the source and may use it could decrypt the ciphertext itself: a
          // plaintext too long for the RSA destination is its to know.
          sourceAllowed: sourceArn !== undefined,
        });
      }
      // The new ciphertext is withheld when the caller may not use the key it came from.
      if (sourceArn === undefined)
        await checkedBeforeRelease(
          () => guard(out.sourceKeyArn, 'kms:ReEncryptFrom', input.context),
          out.ciphertext,
        );
      return {
        ciphertext: out.ciphertext,
        sourceKeyArn: out.sourceKeyArn,
        keyArn: out.keyArn,
        format,
        ...algorithms,
      };
    }
    const opened = await this.decrypt(
      input.ciphertext,
      input.context,
      input.sourceKeyId,
      guard,
      'kms:ReEncryptFrom',
    );
    try {
      if (destinationRsa && destinationKind) {
        // An SDK message's plaintext, now in this process, to an RSA key: KMS Encrypt, if it fits.
        CryptoService.rsaLimit(
          opened.plaintext.byteLength,
          input.destinationKeyId,
          destinationKind,
          destinationRsa,
        );
        const out = await this.keys.encrypt(destinationArn, opened.plaintext, undefined, destinationRsa);
        return {
          ciphertext: out.ciphertext,
          sourceKeyArn: opened.keyArn,
          keyArn: out.keyArn,
          format: 'kms' as CiphertextFormat,
          ...algorithms,
        };
      }
      await this.requireEnvelopeKey(destinationArn, input.destinationKeyId);
      const sealed = await this.envelope.encrypt(destinationArn, opened.plaintext, destinationContext);
      return {
        ciphertext: sealed.message,
        sourceKeyArn: opened.keyArn,
        keyArn: sealed.keyArn,
        format,
        ...algorithms,
      };
    } finally {
      opened.plaintext.fill(0);
    }
  }

  /**
   * KMS ReEncrypt does not say whether the source or the destination failed. A destination problem
   * (missing, disabled, pending deletion, an RSA key named without its algorithm) is the caller's
   * to know; anything about the source is a decrypt failure and gets the uniform answer.
   */
  private async reEncryptFailure(
    error: unknown,
    destinationKeyId: string,
    about: {
      destinationKeyId: string;
      destinationRsa: RsaEncryptionAlgorithm | undefined;
      sourceAllowed: boolean;
    },
  ): Promise<unknown> {
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
    if (about.destinationRsa === undefined) {
      const refusal = await this.rsaWithoutAlgorithm(destinationKeyId, about.destinationKeyId);
      if (refusal) return refusal;
    } else if (about.sourceAllowed && error.code === 'ValidationError') {
      // KMS opened the ciphertext and refused to encrypt its plaintext under the RSA key: too long.
      const kind = await this.kindOf(destinationKeyId);
      const max = rsaPlaintextLimit(kind.spec, about.destinationRsa);
      return new PayloadTooLargeError(
        `The plaintext is longer than ${about.destinationRsa} under the ${kind.spec} key ${about.destinationKeyId} encrypts (at most ${max} bytes).`,
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
