import { UsageError } from '../exit-codes.js';
import type { CommandContext } from '../runtime.js';
import { base64Line } from './base64.js';
import { openOutput, writeAll } from './io.js';

export interface DataKeyOptions {
  key: string;
  context?: Record<string, string>;
  keySpec?: 'AES_256' | 'AES_128';
  bytes?: number;
  out?: string;
  plaintextOut?: string;
  base64?: boolean;
}

/**
 * `eaas data-key`: a data key wrapped under the key, to a file or standard output (`--out -`), or
 * described on standard output (its key ARN and the wrapped key in base64). The plaintext key is
 * asked of the API only with --plaintext-out, and written there with mode 0600, never to a terminal.
 */
export async function dataKey(
  ctx: CommandContext,
  options: DataKeyOptions,
): Promise<Record<string, unknown> | undefined> {
  const { out, plaintextOut } = options;
  if (plaintextOut === '-' && (out === undefined || out === '-'))
    throw new UsageError(
      '--plaintext-out - takes standard output: give the wrapped key a file with --out FILE',
    );
  const wrappedTo =
    out === undefined
      ? undefined
      : await openOutput(ctx.runtime, out, {
          secret: false,
          what: 'a wrapped key',
          text: Boolean(options.base64),
        });
  let plainTo: Awaited<ReturnType<typeof openOutput>> | undefined;
  try {
    plainTo =
      plaintextOut === undefined
        ? undefined
        : await openOutput(ctx.runtime, plaintextOut, { secret: true, what: 'a plaintext data key' });
    const answer = await (await ctx.client()).generateDataKey({
      keyId: options.key,
      ...(options.keySpec ? { keySpec: options.keySpec } : {}),
      ...(options.bytes !== undefined ? { numberOfBytes: options.bytes } : {}),
      ...(options.context ? { context: options.context } : {}),
      includePlaintext: plainTo !== undefined,
    });
    try {
      if (wrappedTo)
        await writeAll(wrappedTo, options.base64 ? base64Line(answer.ciphertext) : answer.ciphertext);
      if (plainTo && answer.plaintext) {
        const text = options.base64 ? base64Line(answer.plaintext) : undefined;
        await writeAll(plainTo, text ?? answer.plaintext);
        text?.fill(0);
      }
    } finally {
      answer.plaintext?.fill(0);
    }
    if (out === '-' || plaintextOut === '-') return undefined;
    return {
      keyId: answer.keyId,
      ...(wrappedTo ? { out: wrappedTo.path } : { ciphertext: answer.ciphertext.toString('base64') }),
      ...(plainTo ? { plaintextOut: plainTo.path } : {}),
    };
  } catch (error) {
    await wrappedTo?.abort();
    await plainTo?.abort();
    throw error;
  }
}
