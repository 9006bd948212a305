import type { EncryptionContext } from '@eaas/aws-rules';
import { ValidationError } from '../core/errors.js';
import { publicKeyPem } from '../core/pem.js';
import { type ApiHandler, type HttpDeps, makeApiHandler, type RouteInput } from '../http/api.js';
import { callerOf } from '../http/caller.js';
import { VALIDATORS } from '../http/validators/crypto.js';
import type { AccessControl } from '../services/access.js';
import type { CryptoService, KeyGuard } from '../services/crypto.js';
import type { MessageType, SigningService } from '../services/signing.js';

export interface CryptoDeps extends HttpDeps {
  crypto: CryptoService;
  /** Signatures and MACs, with asymmetric and HMAC keys. */
  signing: SigningService;
  /**
   * Authorization of the IAM caller on the key. `null` switches it off, which only the
   * benchmark does, to measure its cost; production wiring always sets it.
   */
  access: AccessControl | null;
}

const b64 = (bytes: Uint8Array) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
const bytesOf = (value: unknown) => Buffer.from(String(value), 'base64');
const ctx = (value: unknown) => value as EncryptionContext | undefined;
const str = (value: unknown) => (value === undefined ? undefined : String(value));

/** A guard that checks nothing: only the benchmark runs without authorization. */
const noGuard: KeyGuard = async (keyId) => keyId;

/**
 * POST /v1/encrypt, /v1/decrypt, /v1/re-encrypt, /v1/data-keys; /v1/sign, /v1/verify, /v1/mac,
 * /v1/verify-mac, GET /v1/keys/{keyId}/public-key. Messages and MACs are secrets of the caller's:
 * they go to KMS and back, never into the audit record or a log line.
 */
export function makeHandler(deps: CryptoDeps): ApiHandler {
  const { crypto, access, signing } = deps;
  const signInput = (body: Record<string, unknown>) => ({
    keyId: String(body.keyId),
    message: bytesOf(body.message),
    messageType: body.messageType as MessageType | undefined,
    algorithm: str(body.algorithm),
  });
  /**
   * The audit record's message type (as the caller sent it: RAW unless it sent a digest) and
   * algorithm; a batch whose items differ records each value once, comma-separated.
   */
  const auditSigning = ({ body, state }: RouteInput, algorithm: string | undefined, mac = false) => {
    const add = (was: string | undefined, value: string) =>
      was === undefined || was.split(',').includes(value) ? (was ?? value) : `${was},${value}`;
    if (!mac) state.audit.messageType = add(state.audit.messageType, str(body.messageType) ?? 'RAW');
    if (algorithm !== undefined) state.audit.algorithm = add(state.audit.algorithm, algorithm);
  };
  const guardOf = ({ body, state }: RouteInput): KeyGuard | undefined =>
    access?.guardFor(
      callerOf(state),
      (d) => state.audit.decisions.push(d),
      body.grantTokens as string[] | undefined,
    );
  return makeApiHandler(
    'crypto',
    {
      async encrypt(input: RouteInput) {
        const { body, state } = input;
        const plaintext = bytesOf(body.plaintext);
        try {
          const out = await crypto.encrypt(
            String(body.keyId),
            plaintext,
            ctx(body.context),
            guardOf(input),
            str(body.encryptionAlgorithm),
          );
          state.audit.keyArn = out.keyArn;
          return {
            ciphertext: b64(out.ciphertext),
            keyId: out.keyArn,
            format: out.format,
            encryptionAlgorithm: out.algorithm,
          };
        } finally {
          plaintext.fill(0);
        }
      },

      async decrypt(input: RouteInput) {
        const { body, state } = input;
        const out = await crypto.decrypt(
          bytesOf(body.ciphertext),
          ctx(body.context),
          str(body.keyId),
          guardOf(input),
          'kms:Decrypt',
          str(body.encryptionAlgorithm),
        );
        state.audit.keyArn = out.keyArn;
        const plaintext = b64(out.plaintext);
        out.plaintext.fill(0);
        return { plaintext, keyId: out.keyArn, format: out.format, encryptionAlgorithm: out.algorithm };
      },

      async reEncrypt(input: RouteInput) {
        const { body, state } = input;
        const out = await crypto.reEncrypt(
          {
            ciphertext: bytesOf(body.ciphertext),
            destinationKeyId: String(body.destinationKeyId),
            context: ctx(body.context),
            destinationContext: ctx(body.destinationContext),
            sourceKeyId: str(body.sourceKeyId),
            sourceAlgorithm: str(body.sourceEncryptionAlgorithm),
            destinationAlgorithm: str(body.destinationEncryptionAlgorithm),
          },
          guardOf(input),
        );
        state.audit.keyArn = out.keyArn;
        return {
          ciphertext: b64(out.ciphertext),
          sourceKeyId: out.sourceKeyArn,
          keyId: out.keyArn,
          format: out.format,
          sourceEncryptionAlgorithm: out.sourceAlgorithm,
          destinationEncryptionAlgorithm: out.destinationAlgorithm,
        };
      },

      async generateDataKey(input: RouteInput) {
        const { body, state } = input;
        const out = await crypto.dataKey(
          {
            keyId: String(body.keyId),
            keySpec: body.keySpec as 'AES_256' | 'AES_128' | undefined,
            numberOfBytes: body.numberOfBytes as number | undefined,
            context: ctx(body.context),
            includePlaintext: body.includePlaintext !== false,
          },
          guardOf(input),
        );
        state.audit.keyArn = out.keyArn;
        const answer: Record<string, unknown> = { ciphertext: b64(out.ciphertext), keyId: out.keyArn };
        if (out.plaintext) {
          answer.plaintext = b64(out.plaintext);
          out.plaintext.fill(0);
        }
        return answer;
      },

      async sign(input: RouteInput) {
        // Recorded before the decision, so that a refusal's record says what was asked too.
        auditSigning(input, str(input.body.algorithm));
        const out = await signing.sign(signInput(input.body), guardOf(input) ?? noGuard);
        input.state.audit.keyArn = out.keyArn;
        auditSigning(input, out.algorithm);
        return {
          signature: b64(out.signature),
          keyId: out.keyArn,
          algorithm: out.algorithm,
          messageType: out.messageType,
          ...(out.digestedBy ? { digestedBy: out.digestedBy } : {}),
        };
      },

      async verify(input: RouteInput) {
        auditSigning(input, str(input.body.algorithm));
        const out = await signing.verify(
          { ...signInput(input.body), signature: bytesOf(input.body.signature) },
          guardOf(input) ?? noGuard,
        );
        input.state.audit.keyArn = out.keyArn;
        auditSigning(input, out.algorithm);
        return {
          valid: out.valid,
          keyId: out.keyArn,
          algorithm: out.algorithm,
          messageType: out.messageType,
          ...(out.digestedBy ? { digestedBy: out.digestedBy } : {}),
        };
      },

      async generateMac(input: RouteInput) {
        const { body } = input;
        auditSigning(input, str(body.algorithm), true);
        const out = await signing.generateMac(
          { keyId: String(body.keyId), message: bytesOf(body.message), algorithm: str(body.algorithm) },
          guardOf(input) ?? noGuard,
        );
        input.state.audit.keyArn = out.keyArn;
        auditSigning(input, out.algorithm, true);
        return { mac: b64(out.mac), keyId: out.keyArn, algorithm: out.algorithm };
      },

      async verifyMac(input: RouteInput) {
        const { body } = input;
        auditSigning(input, str(body.algorithm), true);
        const out = await signing.verifyMac(
          {
            keyId: String(body.keyId),
            message: bytesOf(body.message),
            mac: bytesOf(body.mac),
            algorithm: str(body.algorithm),
          },
          guardOf(input) ?? noGuard,
        );
        input.state.audit.keyArn = out.keyArn;
        auditSigning(input, out.algorithm, true);
        return { valid: out.valid, keyId: out.keyArn, algorithm: out.algorithm };
      },

      async getPublicKey(input: RouteInput) {
        const keyId = input.pathParameters.keyId ?? '';
        if (keyId.length === 0 || keyId.length > 2048)
          throw new ValidationError('The key id in the path is not valid.');
        const { publicKey, keyArn, ...rest } = await signing.publicKey(keyId, guardOf(input) ?? noGuard);
        input.state.audit.keyArn = keyArn;
        return { keyId: keyArn, publicKey: b64(publicKey), publicKeyPem: publicKeyPem(publicKey), ...rest };
      },
    },
    deps,
    VALIDATORS,
  );
}
