import { pipeline } from 'node:stream/promises';
import { encryptStream } from '../../esdk/esdk.js';
import type { CommandContext } from '../runtime.js';
import { base64Encoder, base64Line } from './base64.js';
import { openInput, openOutput, peek, writeAll } from './io.js';

/**
 * The largest plaintext encrypted through the API in one request, as a KMS ciphertext blob (KMS
 * Encrypt's own limit). Anything larger, and an empty input, becomes an Encryption SDK message made here, streamed,
 * with a data key from the API.
 */
export const INLINE_PLAINTEXT_LIMIT = 4096;

export interface CryptoResult extends Record<string, unknown> {
  keyId: string | undefined;
  format: 'kms' | 'aws-encryption-sdk';
}

/** `eaas encrypt`: the input's plaintext, under the key, to the output. */
export async function encrypt(
  ctx: CommandContext,
  options: { key: string; context?: Record<string, string>; in?: string; out?: string; base64?: boolean },
): Promise<CryptoResult & { out?: string }> {
  const input = await openInput(ctx.runtime, options.in);
  const output = await openOutput(ctx.runtime, options.out, {
    secret: false,
    what: 'ciphertext',
    text: Boolean(options.base64),
  });
  try {
    const client = await ctx.client();
    const { head, ended, stream } = await peek(input, INLINE_PLAINTEXT_LIMIT);
    // KMS encrypts 1 to 4096 bytes; nothing at all becomes a message too (the SDK takes an empty plaintext).
    if (ended && head.length > 0) {
      try {
        const out = await client.encrypt({
          keyId: options.key,
          plaintext: head,
          ...(options.context ? { context: options.context } : {}),
        });
        await writeAll(output, options.base64 ? base64Line(out.ciphertext) : out.ciphertext);
        return { keyId: out.keyId, format: out.format, ...(output.path ? { out: output.path } : {}) };
      } finally {
        head.fill(0);
      }
    }
    let keyId: string | undefined;
    const encrypting = await encryptStream(client, {
      keyId: options.key,
      ...(options.context ? { encryptionContext: options.context } : {}),
      onKey: (arn) => {
        keyId = arn;
      },
    });
    const end = { end: output.path !== undefined };
    await (options.base64
      ? pipeline(stream, encrypting, base64Encoder(), output.stream, end)
      : pipeline(stream, encrypting, output.stream, end));
    await output.commit();
    return { keyId, format: 'aws-encryption-sdk', ...(output.path ? { out: output.path } : {}) };
  } catch (error) {
    await output.abort();
    input.destroy();
    throw error;
  }
}
