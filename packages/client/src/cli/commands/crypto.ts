import { type Command, Option } from 'commander';
import { dataKey } from '../crypto/data-key.js';
import { decrypt } from '../crypto/decrypt.js';
import { encrypt } from '../crypto/encrypt.js';
import { reEncrypt } from '../crypto/reencrypt.js';
import { UsageError } from '../exit-codes.js';
import { parseContext } from '../input.js';
import { action, type CommandContext, type Runtime } from '../runtime.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];
const CONTEXT_HELP = 'an encryption context pair k=v (repeat it), or one JSON object';

/** Prints a command's description when its data went to a file (standard output carries the data otherwise). */
function describe(ctx: CommandContext, result: Record<string, unknown> | undefined): void {
  if (result && result.out !== undefined) ctx.printer.value(result);
}

/** `eaas encrypt`, `decrypt`, `re-encrypt`, `data-key`: files or standard streams, of any size. */
export function register(program: Command, runtime: Runtime): void {
  program
    .command('encrypt')
    .description(
      'encrypt a file or standard input: up to 4096 bytes through the API (a KMS ciphertext), larger as a streamed AWS Encryption SDK message',
    )
    .requiredOption('--key <key>', 'the key: id, ARN or alias (alias/name)')
    .option('--context <k=v>', CONTEXT_HELP, collect)
    .option('--in <file>', 'the plaintext (default: standard input, or -)')
    .option('--out <file>', 'the ciphertext, written whole or not at all (default: standard output, or -)')
    .option('--base64', 'write the ciphertext as base64 text (one line) instead of bytes')
    .action(
      action(
        runtime,
        async (ctx, options: { key: string; context?: string[]; in?: string; out?: string }) => {
          const context = parseContext(options.context);
          describe(
            ctx,
            await encrypt(ctx, { ...options, ...(context ? { context } : { context: undefined }) }),
          );
        },
      ),
    );

  program
    .command('decrypt')
    .description('decrypt a KMS ciphertext or an AWS Encryption SDK message (recognised by its first bytes)')
    .option('--key <key>', 'decrypt only under this key (id, ARN or alias)')
    .option('--context <k=v>', `${CONTEXT_HELP}; a message's must be exactly this`, collect)
    .option('--in <file>', 'the ciphertext (default: standard input, or -)')
    .option(
      '--out <file>',
      'the plaintext, mode 0600, written whole or not at all (default: standard output, or -)',
    )
    .option('--base64', 'read the ciphertext as base64 text instead of bytes')
    .action(
      action(
        runtime,
        async (ctx, options: { key?: string; context?: string[]; in?: string; out?: string }) => {
          const context = parseContext(options.context);
          describe(
            ctx,
            await decrypt(ctx, { ...options, ...(context ? { context } : { context: undefined }) }),
          );
        },
      ),
    );

  program
    .command('re-encrypt')
    .description(
      'move a ciphertext to another key or context: up to 4 MiB in the service, a larger message streamed here',
    )
    .requiredOption('--key <key>', 'the destination key (id, ARN or alias)')
    .option('--source-key <key>', 'the ciphertext must be under this key')
    .option('--context <k=v>', `the ciphertext's encryption context: ${CONTEXT_HELP}`, collect)
    .option('--destination-context <k=v>', "the new ciphertext's context (default: the same)", collect)
    .option('--in <file>', 'the ciphertext (default: standard input, or -)')
    .option(
      '--out <file>',
      'the new ciphertext, written whole or not at all (default: standard output, or -)',
    )
    .option('--base64', 'read and write the ciphertexts as base64 text instead of bytes')
    .action(
      action(
        runtime,
        async (
          ctx,
          options: {
            key: string;
            sourceKey?: string;
            context?: string[];
            destinationContext?: string[];
            in?: string;
            out?: string;
            base64?: boolean;
          },
        ) => {
          const context = parseContext(options.context);
          const destinationContext = parseContext(options.destinationContext);
          describe(
            ctx,
            await reEncrypt(ctx, {
              key: options.key,
              ...(options.sourceKey ? { sourceKey: options.sourceKey } : {}),
              ...(context ? { context } : {}),
              ...(destinationContext ? { destinationContext } : {}),
              ...(options.in ? { in: options.in } : {}),
              ...(options.out ? { out: options.out } : {}),
              ...(options.base64 ? { base64: true } : {}),
            }),
          );
        },
      ),
    );

  program
    .command('data-key')
    .description(
      'a data key wrapped under the key; its plaintext only with --plaintext-out (mode 0600, never a terminal)',
    )
    .requiredOption('--key <key>', 'the key that wraps it (id, ARN or alias)')
    .option('--context <k=v>', CONTEXT_HELP, collect)
    .addOption(
      new Option('--key-spec <spec>', 'AES_256 (default) or AES_128').choices(['AES_256', 'AES_128']),
    )
    .option('--bytes <n>', 'a key of this many bytes (1-1024) instead of --key-spec', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n)) throw new UsageError('--bytes: not a whole number');
      return n;
    })
    .option(
      '--out <file>',
      'write the wrapped key (binary) here, - for standard output; else it is printed in base64',
    )
    .option(
      '--plaintext-out <file>',
      'write the plaintext key (binary) here, - for standard output (not a terminal)',
    )
    .option('--base64', 'write the keys to --out and --plaintext-out as base64 text instead of bytes')
    .action(
      action(
        runtime,
        async (
          ctx,
          options: {
            key: string;
            context?: string[];
            keySpec?: 'AES_256' | 'AES_128';
            bytes?: number;
            out?: string;
            plaintextOut?: string;
          },
        ) => {
          const context = parseContext(options.context);
          const { context: _raw, ...rest } = options;
          const answer = await dataKey(ctx, { ...rest, ...(context ? { context } : {}) });
          if (answer) ctx.printer.value(answer);
        },
      ),
    );
}
