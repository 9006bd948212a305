import type { EncryptionContext } from '@eaas/aws-rules';
import { type ApiHandler, type HttpDeps, makeApiHandler, type RouteInput } from '../http/api.js';
import { VALIDATORS } from '../http/validators/crypto.js';
import type { AccessControl } from '../services/access.js';
import type { CryptoService, KeyGuard } from '../services/crypto.js';

export interface CryptoDeps extends HttpDeps {
  crypto: CryptoService;
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

/** POST /v1/encrypt, /v1/decrypt, /v1/re-encrypt, /v1/data-keys. */
export function makeHandler(deps: CryptoDeps): ApiHandler {
  const { crypto, access } = deps;
  const guardOf = ({ body, state }: RouteInput): KeyGuard | undefined =>
    access?.guardFor(
      { arn: state.callerArn },
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
          const out = await crypto.encrypt(String(body.keyId), plaintext, ctx(body.context), guardOf(input));
          state.audit.keyArn = out.keyArn;
          return { ciphertext: b64(out.ciphertext), keyId: out.keyArn, format: out.format };
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
        );
        state.audit.keyArn = out.keyArn;
        const plaintext = b64(out.plaintext);
        out.plaintext.fill(0);
        return { plaintext, keyId: out.keyArn, format: out.format };
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
          },
          guardOf(input),
        );
        state.audit.keyArn = out.keyArn;
        return {
          ciphertext: b64(out.ciphertext),
          sourceKeyId: out.sourceKeyArn,
          keyId: out.keyArn,
          format: out.format,
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
    },
    deps,
    VALIDATORS,
  );
}
