import type { Command } from 'commander';
import { action, type Runtime } from '../runtime.js';
import { get } from './documents/get.js';
import { head, ls, rm } from './documents/listing.js';
import { type PutOptions, put } from './documents/put.js';

/** The `documents` commands: put, get, ls, rm, head (one module each under documents/). */
export function register(program: Command, runtime: Runtime): void {
  program
    .command('put')
    .description('store a file (or standard input: -) as the document KEY, encrypted under --key-id')
    .argument('<file>', 'the file to store, or - for standard input')
    .argument('<key>', "the document's name, e.g. reports/2026/q1.pdf")
    .option('-k, --key-id <key>', 'the key to encrypt under: id, ARN or alias (default: EAAS_KEY_ID)')
    .option('--context <k=v...>', 'the encryption context, as k=v pairs or one JSON object')
    .option('--content-type <type>', 'the media type to keep with it (default application/octet-stream)')
    .option('--no-overwrite', 'refuse if KEY already holds a document')
    .option('--concurrency <n>', 'parts sent at once (default 4)')
    .option('--max-rate <bytes>', 'send no faster than this many bytes per second, on average')
    .option(
      '--seal <who>',
      'who encrypts a large file: client (default; encrypted here, sent once straight into the vault, not resumable) or service (plaintext to the staging area, sealed there, resumable)',
    )
    .option(
      '--verify',
      'with --seal client (the default): the service authenticates the stored ciphertext (never releasing plaintext) before the document is listed; waits for it. Any size then goes this way',
    )
    .option('--no-resume', 'start a new upload even if an interrupted one of this file could resume')
    .action(
      action(runtime, (ctx, file: string, key: string, options: PutOptions) => put(ctx, file, key, options)),
    );
  program
    .command('get')
    .description(
      'download and decrypt the document KEY into FILE (default: its last name segment), or - for standard output',
    )
    .argument('<key>', "the document's name")
    .argument('[file]', 'where to write it, or - for standard output')
    .action(action(runtime, (ctx, key: string, file: string | undefined) => get(ctx, key, file)));
  program
    .command('ls')
    .description('the documents under PREFIX that the caller may decrypt, every page')
    .argument('[prefix]', 'only names starting with this')
    .option('--limit <n>', 'at most this many (the answer then has nextToken if there are more)')
    .option('--next-token <token>', 'continue a listing from its nextToken')
    .action(
      action(runtime, (ctx, prefix: string | undefined, options: { limit?: string; nextToken?: string }) =>
        ls(ctx, prefix, options),
      ),
    );
  program
    .command('head')
    .description("a document's metadata: size, format, key, context, owner, times")
    .argument('<key>', "the document's name")
    .action(action(runtime, (ctx, key: string) => head(ctx, key)));
  program
    .command('rm')
    .description('delete the document KEY')
    .argument('<key>', "the document's name")
    .action(action(runtime, (ctx, key: string) => rm(ctx, key)));
}
