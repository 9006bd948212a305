import { pipeline } from 'node:stream/promises';
import { EaasError } from '../../errors.js';
import { decryptStream, messageKind } from '../../esdk/esdk.js';
import { CliError, EXIT, exitCodeOf, UsageError } from '../exit-codes.js';
import type { CommandContext } from '../runtime.js';
import { decodedFrom } from './base64.js';
import type { CryptoResult } from './encrypt.js';
import { holdBack, openInput, openOutput, peek, readAll, writeAll } from './io.js';

/** The largest ciphertext sent to the API whole (a KMS blob is at most 6144 bytes; a signed message, this). */
export const INLINE_CIPHERTEXT_LIMIT = 4 * 1024 * 1024;
const KMS_BLOB_LIMIT = 6144;
/** The plaintext held back from standard output until a message is authenticated whole. */
export const HOLD_BACK = 8 * 1024 * 1024;

/** The one answer to a ciphertext that cannot be decrypted, whatever the cause. */
export const invalidCiphertext = () =>
  new CliError(
    'InvalidCiphertext',
    'The ciphertext could not be decrypted with the given key and encryption context.',
    EXIT.invalidCiphertext,
  );

/**
 * Whether an error says nothing of the ciphertext: the API could not be asked (no credentials, a
 * refused signature, throttling, an outage, no answer) or the command line is wrong. Any other
 * failure of a decrypt is the one InvalidCiphertext.
 */
export function notAboutCiphertext(error: unknown): boolean {
  if (error instanceof UsageError) return true;
  if (error instanceof CliError) return error.exit !== EXIT.invalidCiphertext;
  if (error instanceof EaasError) {
    const exit = exitCodeOf(error);
    return exit === EXIT.authentication || exit === EXIT.throttled || exit === EXIT.internal;
  }
  const e = error as { name?: string; message?: string };
  return (
    e?.name === 'TimeoutError' || e?.message === 'fetch failed' || e?.name === 'CredentialsProviderError'
  );
}

export interface DecryptOptions {
  key?: string;
  context?: Record<string, string>;
  in?: string;
  out?: string;
  base64?: boolean;
}

/** `eaas decrypt`: a KMS ciphertext blob or an Encryption SDK message, recognised by its first bytes. */
export async function decrypt(
  ctx: CommandContext,
  options: DecryptOptions,
): Promise<CryptoResult & { out?: string }> {
  const opened = await openInput(ctx.runtime, options.in);
  const input = options.base64 ? decodedFrom(opened) : opened;
  const output = await openOutput(ctx.runtime, options.out, { secret: true, what: 'plaintext' });
  // An error of the API seen by the keyring, which swallows it into one of its own.
  let apiError: unknown;
  try {
    const client = await ctx.client();
    const { head, stream } = await peek(input, 4);
    const kind = messageKind(head);
    if (kind !== 'esdk') {
      const max = kind === 'kms' ? KMS_BLOB_LIMIT : INLINE_CIPHERTEXT_LIMIT;
      const ciphertext = await readAll(stream, max, invalidCiphertext);
      if (ciphertext.length === 0) throw invalidCiphertext();
      const out = await client.decrypt({
        ciphertext,
        ...(options.context ? { context: options.context } : {}),
        ...(options.key ? { keyId: options.key } : {}),
      });
      try {
        await writeAll(output, out.plaintext);
      } finally {
        out.plaintext.fill(0);
      }
      return { keyId: out.keyId, format: out.format, ...(output.path ? { out: output.path } : {}) };
    }
    let keyId: string | undefined;
    const decrypting = await decryptStream(client, {
      ...(options.key ? { keyId: options.key } : {}),
      ...(options.context ? { context: options.context } : {}),
      onError: (error) => {
        apiError ??= error;
      },
      onKey: (arn) => {
        keyId = arn;
      },
    });
    // A file is renamed into place only once all is authenticated; standard output gets nothing
    // of a message up to HOLD_BACK bytes unless all of it is authentic.
    await (output.path === undefined
      ? pipeline(stream, decrypting, holdBack(HOLD_BACK), output.stream, { end: false })
      : pipeline(stream, decrypting, output.stream));
    await output.commit();
    return { keyId, format: 'aws-encryption-sdk', ...(output.path ? { out: output.path } : {}) };
  } catch (error) {
    await output.abort();
    input.destroy();
    opened.destroy();
    if (apiError !== undefined && notAboutCiphertext(apiError)) throw apiError;
    // The API's own answer (the inline path) is as the API decided it.
    if (error instanceof EaasError || notAboutCiphertext(error)) throw error;
    throw invalidCiphertext();
  }
}
