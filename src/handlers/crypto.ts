import type { EncryptionContext } from '../core/context.js';
import { type ApiHandler, type HttpDeps, lazyHandler, makeApiHandler, type RouteInput } from '../http/api.js';
import type { CryptoService } from '../services/crypto.js';
import { cryptoDepsFromConfig } from './deps.js';

export interface CryptoDeps extends HttpDeps {
  crypto: CryptoService;
}

const b64 = (bytes: Uint8Array) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
const bytesOf = (value: unknown) => Buffer.from(String(value), 'base64');
const ctx = (value: unknown) => value as EncryptionContext | undefined;
const str = (value: unknown) => (value === undefined ? undefined : String(value));

/** POST /v1/encrypt, /v1/decrypt, /v1/re-encrypt, /v1/data-keys. */
export function makeHandler(deps: CryptoDeps): ApiHandler {
  const { crypto } = deps;
  return makeApiHandler(
    'crypto',
    {
      async encrypt({ body, state }: RouteInput) {
        const plaintext = bytesOf(body.plaintext);
        try {
          const out = await crypto.encrypt(String(body.keyId), plaintext, ctx(body.context));
          state.audit.keyArn = out.keyArn;
          return { ciphertext: b64(out.ciphertext), keyId: out.keyArn, format: out.format };
        } finally {
          plaintext.fill(0);
        }
      },

      async decrypt({ body, state }: RouteInput) {
        const out = await crypto.decrypt(bytesOf(body.ciphertext), ctx(body.context), str(body.keyId));
        state.audit.keyArn = out.keyArn;
        const plaintext = b64(out.plaintext);
        out.plaintext.fill(0);
        return { plaintext, keyId: out.keyArn, format: out.format };
      },

      async reEncrypt({ body, state }: RouteInput) {
        const out = await crypto.reEncrypt({
          ciphertext: bytesOf(body.ciphertext),
          destinationKeyId: String(body.destinationKeyId),
          context: ctx(body.context),
          destinationContext: ctx(body.destinationContext),
          sourceKeyId: str(body.sourceKeyId),
        });
        state.audit.keyArn = out.keyArn;
        return {
          ciphertext: b64(out.ciphertext),
          sourceKeyId: out.sourceKeyArn,
          keyId: out.keyArn,
          format: out.format,
        };
      },

      async generateDataKey({ body, state }: RouteInput) {
        const out = await crypto.dataKey({
          keyId: String(body.keyId),
          keySpec: body.keySpec as 'AES_256' | 'AES_128' | undefined,
          numberOfBytes: body.numberOfBytes as number | undefined,
          context: ctx(body.context),
          includePlaintext: body.includePlaintext !== false,
        });
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
  );
}

/** The Lambda entry point: dependencies from configuration, built once per cold start. */
export const handler = lazyHandler(() => makeHandler(cryptoDepsFromConfig()));
