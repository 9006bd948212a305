import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EaasError } from '../../errors.js';
import { decryptStream, encryptStream, messageKind } from '../../esdk/esdk.js';
import { callerContext } from '../../esdk/kms-adapter.js';
import type { CommandContext } from '../runtime.js';
import { base64Encoder, base64Line, decodedFrom } from './base64.js';
import { INLINE_CIPHERTEXT_LIMIT, invalidCiphertext, notAboutCiphertext } from './decrypt.js';
import type { CryptoResult } from './encrypt.js';
import { openInput, openOutput, peek, writeAll } from './io.js';

export interface ReEncryptOptions {
  key: string;
  sourceKey?: string;
  context?: Record<string, string>;
  destinationContext?: Record<string, string>;
  in?: string;
  out?: string;
  base64?: boolean;
}

/**
 * `eaas re-encrypt`: up to 4 MiB of ciphertext goes to POST /v1/re-encrypt (the plaintext never
 * leaves the service); a larger Encryption SDK message is decrypted and encrypted again here, as a
 * stream, with data keys from the API (the plaintext passes through this process's memory only).
 */
export async function reEncrypt(
  ctx: CommandContext,
  options: ReEncryptOptions,
): Promise<CryptoResult & { sourceKeyId: string | undefined; out?: string }> {
  const opened = await openInput(ctx.runtime, options.in);
  const input = options.base64 ? decodedFrom(opened) : opened;
  const output = await openOutput(ctx.runtime, options.out, {
    secret: false,
    what: 'ciphertext',
    text: Boolean(options.base64),
  });
  let apiError: unknown;
  const onError = (error: unknown) => {
    apiError ??= error;
  };
  try {
    const client = await ctx.client();
    const { head, ended, stream } = await peek(input, INLINE_CIPHERTEXT_LIMIT);
    if (ended) {
      if (head.length === 0) throw invalidCiphertext();
      const out = await client.reEncrypt({
        ciphertext: head,
        destinationKeyId: options.key,
        ...(options.context ? { context: options.context } : {}),
        ...(options.destinationContext ? { destinationContext: options.destinationContext } : {}),
        ...(options.sourceKey ? { sourceKeyId: options.sourceKey } : {}),
      });
      await writeAll(output, options.base64 ? base64Line(out.ciphertext) : out.ciphertext);
      return {
        sourceKeyId: out.sourceKeyId,
        keyId: out.keyId,
        format: out.format,
        ...(output.path ? { out: output.path } : {}),
      };
    }
    if (messageKind(head) !== 'esdk') throw invalidCiphertext();
    let sourceKeyId: string | undefined;
    let keyId: string | undefined;
    const decrypting = await decryptStream(client, {
      ...(options.sourceKey ? { keyId: options.sourceKey } : {}),
      ...(options.context ? { context: options.context } : {}),
      onError,
      onKey: (arn) => {
        sourceKeyId = arn;
      },
    });
    const plaintext = new PassThrough();
    const opening = pipeline(stream, decrypting, plaintext);
    // The new message's context: the one asked for, else the message's own (as the API does).
    const header = new Promise<{ encryptionContext: Record<string, string> }>((resolve) =>
      decrypting.once('MessageHeader', resolve),
    );
    const { encryptionContext } = await Promise.race([header, opening.then(() => header)]);
    const encrypting = await encryptStream(client, {
      keyId: options.key,
      encryptionContext: options.destinationContext ?? callerContext(encryptionContext),
      onKey: (arn) => {
        keyId = arn;
      },
    });
    await Promise.all([
      opening,
      options.base64
        ? pipeline(plaintext, encrypting, base64Encoder(), output.stream, { end: output.path !== undefined })
        : pipeline(plaintext, encrypting, output.stream, { end: output.path !== undefined }),
    ]);
    await output.commit();
    return { sourceKeyId, keyId, format: 'aws-encryption-sdk', ...(output.path ? { out: output.path } : {}) };
  } catch (error) {
    await output.abort();
    input.destroy();
    opened.destroy();
    if (apiError !== undefined && notAboutCiphertext(apiError)) throw apiError;
    // The API's own answer (the inline path, or the destination key's) is as the API decided it.
    if (error instanceof EaasError || notAboutCiphertext(error)) throw error;
    throw invalidCiphertext();
  }
}
