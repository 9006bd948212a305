import { createHash } from 'node:crypto';
import { DomainError, PayloadTooLargeError, ValidationError } from '../core/errors.js';
import {
  hashOfSigningAlgorithm,
  type KeyKind,
  macAlgorithmOf,
  SYMMETRIC,
  signingAlgorithmsOf,
} from '../core/key-kinds.js';
import type { KeyDetails, SigningKeys } from '../ports.js';
import { INLINE_LIMIT, type KeyGuard, KMS_DIRECT_LIMIT, type RequestConditions } from './crypto.js';
import { MAX_CACHE_ENTRIES } from './ttl-cache.js';

/**
 * Signatures and MACs, the use cases behind /v1/sign, /v1/verify, /v1/mac, /v1/verify-mac and
 * /v1/keys/{keyId}/public-key. The caller's right is decided first (a caller without it learns
 * nothing of the key, not even its kind); then the key's kind picks the algorithm and refuses an
 * operation the key does not take, before KMS is asked.
 *
 * KMS signs a message of up to 4,096 bytes, or a digest of a longer one (MessageType DIGEST,
 * https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html). A longer message is hashed
 * here with the signing algorithm's own hash and its digest signed: the signature is the same one
 * KMS would make of the whole message (RAW signing hashes it the same way), so it verifies against
 * the message with any standard tool, and the answer says `messageType: "DIGEST"`. Verify does the
 * same with the same message; the answer's `digestedBy: "service"` tells that digest from a
 * caller's (`digestedBy: "caller"`, for `messageType: "DIGEST"` sent by the caller).
 *
 * Authorization sees the request as the caller made it: `kms:MessageType` is the caller's
 * (RAW for a message, even one the service hashes: the service saw the message, so a policy
 * allowing "messages only" still holds; DIGEST only for a digest the caller sent, which the
 * service never sees the message of), `kms:SigningAlgorithm` and `kms:MacAlgorithm` the algorithm
 * asked for or the key's default, as KMS's own condition keys
 * (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html). MACs have no digest form (an HMAC of a digest is another MAC), so a
 * MAC's message is at most 4,096 bytes.
 */

export type MessageType = 'RAW' | 'DIGEST';

/** What a signature or MAC is asked about. Messages are never logged, nor put in an error. */
interface SignInput {
  keyId: string;
  message: Uint8Array;
  /** DIGEST: `message` is already the digest (of the algorithm's hash). */
  messageType?: MessageType | undefined;
  algorithm?: string | undefined;
}

const DIGEST_BYTES = { sha256: 32, sha384: 48, sha512: 64 } as const;

/**
 * The longest signature or MAC KMS takes (Verify's Signature and VerifyMac's Mac: "Length
 * Constraints: Minimum length of 1. Maximum length of 6144"). Anything else is no signature or MAC
 * of any message: the answer `valid: false`, as for any other that does not verify, rather than
 * KMS's validation error.
 */
const KMS_MAX_SIGNATURE_BYTES = 6144;
const acceptable = (b: Uint8Array) => b.byteLength >= 1 && b.byteLength <= KMS_MAX_SIGNATURE_BYTES;

/** A key's kind and algorithms: they never change, so they are kept for the life of the instance. */
interface KeyTraits {
  kind: KeyKind;
  signingAlgorithms: readonly string[];
  macAlgorithms: readonly string[];
}

const describeKind = (k: KeyKind) => `a ${k.spec} key for ${k.usage}`;

export class SigningService {
  private readonly traits = new Map<string, KeyTraits>();

  constructor(
    private readonly kms: SigningKeys,
    private readonly keys: { describeKey(keyId: string): Promise<KeyDetails> },
  ) {}

  /** The kind of the key `keyArn` (read once; a key's spec and usage are fixed at creation). */
  private async traitsOf(keyArn: string): Promise<KeyTraits> {
    const known = this.traits.get(keyArn);
    if (known) return known;
    const d = await this.keys.describeKey(keyArn);
    const kind = d.kind ?? SYMMETRIC;
    // The API's order (its default first), of the algorithms KMS says the key has.
    const ours = signingAlgorithmsOf(kind.spec);
    const theirs = d.signingAlgorithms ?? ours;
    const traits = {
      kind,
      signingAlgorithms: [
        ...ours.filter((a) => theirs.includes(a)),
        ...theirs.filter((a) => !ours.includes(a)),
      ],
      macAlgorithms: d.macAlgorithms ?? [macAlgorithmOf(kind.spec)].filter((a) => a !== undefined),
    };
    if (this.traits.size >= MAX_CACHE_ENTRIES) this.traits.clear();
    this.traits.set(keyArn, traits);
    return traits;
  }

  private async usable(keyArn: string, keyId: string, usage: KeyKind['usage'], what: string) {
    const traits = await this.traitsOf(keyArn);
    if (traits.kind.usage !== usage)
      throw new DomainError(
        'InvalidKeyUsage',
        `The key ${keyId} is ${describeKind(traits.kind)}; it cannot ${what} (that takes a key for ${usage}).`,
      );
    return traits;
  }

  /** The algorithm asked for, or the key's first; one the key does not have is refused. */
  private static algorithm(keyId: string, asked: string | undefined, allowed: readonly string[]): string {
    const algorithm = asked ?? allowed[0];
    if (algorithm === undefined || !allowed.includes(algorithm))
      throw new DomainError(
        'InvalidKeyUsage',
        `The key ${keyId} takes the algorithms ${allowed.join(', ')}${asked ? `, not ${asked}` : ''}.`,
      );
    return algorithm;
  }

  /**
   * The condition keys of a Sign or Verify request, from the key once resolved: the caller's
   * message type and the algorithm (the key's default when none is asked for).
   */
  private signConditions(input: SignInput): RequestConditions {
    return async (keyArn) => {
      const algorithm = input.algorithm ?? (await this.traitsOf(keyArn)).signingAlgorithms[0];
      return {
        'kms:MessageType': [input.messageType ?? 'RAW'],
        'kms:SigningAlgorithm': algorithm === undefined ? [] : [algorithm],
      };
    };
  }

  private macConditions(asked: string | undefined): RequestConditions {
    return async (keyArn) => {
      const algorithm = asked ?? (await this.traitsOf(keyArn)).macAlgorithms[0];
      return { 'kms:MacAlgorithm': algorithm === undefined ? [] : [algorithm] };
    };
  }

  /** What KMS is given: the message, its digest when it is longer than KMS takes, or the caller's digest. */
  private static prepared(
    input: SignInput,
    algorithm: string,
  ): { bytes: Uint8Array; messageType: MessageType; digestedBy?: 'service' | 'caller' } {
    const hash = hashOfSigningAlgorithm(algorithm);
    if (input.messageType === 'DIGEST') {
      if (input.message.byteLength !== DIGEST_BYTES[hash])
        throw new ValidationError(
          `A DIGEST message for ${algorithm} is the ${DIGEST_BYTES[hash]}-byte ${hash.toUpperCase()} digest; this one is ${input.message.byteLength} bytes.`,
        );
      return { bytes: input.message, messageType: 'DIGEST', digestedBy: 'caller' };
    }
    if (input.message.byteLength > INLINE_LIMIT)
      throw new PayloadTooLargeError(
        `The message is ${input.message.byteLength} bytes; the API signs up to ${INLINE_LIMIT} bytes (hash larger data and send its digest with messageType DIGEST).`,
      );
    if (input.message.byteLength <= KMS_DIRECT_LIMIT) return { bytes: input.message, messageType: 'RAW' };
    return {
      bytes: createHash(hash).update(input.message).digest(),
      messageType: 'DIGEST',
      digestedBy: 'service',
    };
  }

  async sign(input: SignInput, guard: KeyGuard) {
    const keyArn = await guard(input.keyId, 'kms:Sign', undefined, this.signConditions(input));
    const traits = await this.usable(keyArn, input.keyId, 'SIGN_VERIFY', 'sign');
    const algorithm = SigningService.algorithm(input.keyId, input.algorithm, traits.signingAlgorithms);
    const { bytes, messageType, digestedBy } = SigningService.prepared(input, algorithm);
    const out = await this.kms.sign({ keyId: keyArn, message: bytes, messageType, algorithm });
    return {
      signature: out.signature,
      keyArn: out.keyArn,
      algorithm,
      messageType,
      ...(digestedBy ? { digestedBy } : {}),
    };
  }

  async verify(input: SignInput & { signature: Uint8Array }, guard: KeyGuard) {
    const keyArn = await guard(input.keyId, 'kms:Verify', undefined, this.signConditions(input));
    const traits = await this.usable(keyArn, input.keyId, 'SIGN_VERIFY', 'verify signatures');
    const algorithm = SigningService.algorithm(input.keyId, input.algorithm, traits.signingAlgorithms);
    const { bytes, messageType, digestedBy } = SigningService.prepared(input, algorithm);
    const extra = digestedBy ? { digestedBy } : {};
    if (!acceptable(input.signature)) return { valid: false, keyArn, algorithm, messageType, ...extra };
    const out = await this.kms.verify({
      keyId: keyArn,
      message: bytes,
      messageType,
      signature: input.signature,
      algorithm,
    });
    return { valid: out.valid, keyArn, algorithm, messageType, ...extra };
  }

  private static macMessage(message: Uint8Array): Uint8Array {
    if (message.byteLength > KMS_DIRECT_LIMIT)
      throw new PayloadTooLargeError(
        `The message is ${message.byteLength} bytes; a MAC is made of up to ${KMS_DIRECT_LIMIT} bytes (KMS's limit, and an HMAC has no digest form).`,
      );
    return message;
  }

  async generateMac(
    input: { keyId: string; message: Uint8Array; algorithm?: string | undefined },
    guard: KeyGuard,
  ) {
    const keyArn = await guard(
      input.keyId,
      'kms:GenerateMac',
      undefined,
      this.macConditions(input.algorithm),
    );
    const traits = await this.usable(keyArn, input.keyId, 'GENERATE_VERIFY_MAC', 'make MACs');
    const algorithm = SigningService.algorithm(input.keyId, input.algorithm, traits.macAlgorithms);
    const message = SigningService.macMessage(input.message);
    const out = await this.kms.generateMac({ keyId: keyArn, message, algorithm });
    return { mac: out.mac, keyArn: out.keyArn, algorithm };
  }

  async verifyMac(
    input: { keyId: string; message: Uint8Array; mac: Uint8Array; algorithm?: string | undefined },
    guard: KeyGuard,
  ) {
    const keyArn = await guard(input.keyId, 'kms:VerifyMac', undefined, this.macConditions(input.algorithm));
    const traits = await this.usable(keyArn, input.keyId, 'GENERATE_VERIFY_MAC', 'verify MACs');
    const algorithm = SigningService.algorithm(input.keyId, input.algorithm, traits.macAlgorithms);
    const message = SigningService.macMessage(input.message);
    if (!acceptable(input.mac)) return { valid: false, keyArn, algorithm };
    // KMS compares the MACs (in constant time); the service never holds the expected one.
    const out = await this.kms.verifyMac({ keyId: keyArn, message, mac: input.mac, algorithm });
    return { valid: out.valid, keyArn, algorithm };
  }

  /** The public key of an asymmetric key, with what the key is for and its algorithms. */
  async publicKey(keyId: string, guard: KeyGuard) {
    const keyArn = await guard(keyId, 'kms:GetPublicKey', undefined);
    const traits = await this.traitsOf(keyArn);
    const { spec, usage } = traits.kind;
    if (!spec.startsWith('RSA_') && !spec.startsWith('ECC_'))
      throw new DomainError(
        'UnsupportedOperation',
        `The key ${keyId} is ${describeKind(traits.kind)}: only an asymmetric key has a public key.`,
      );
    const out = await this.kms.publicKey(keyArn);
    return {
      publicKey: out.publicKey,
      keyArn: out.keyArn,
      keySpec: spec,
      keyUsage: usage,
      ...(usage === 'SIGN_VERIFY'
        ? { signingAlgorithms: [...traits.signingAlgorithms] }
        : { encryptionAlgorithms: ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] }),
    };
  }
}
