import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { register as registerCompletion } from './commands/completion.js';
import { register as registerCrypto } from './commands/crypto.js';
import { register as registerDocuments } from './commands/documents.js';
import { register as registerJobs } from './commands/jobs.js';
import { register as registerKeys } from './commands/keys.js';
import { register as registerWhoami } from './commands/whoami.js';
import { EXIT } from './exit-codes.js';
import type { Runtime } from './runtime.js';

/** The package's version (the same file from src/cli and from dist/cli). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

const EXIT_CODES_HELP = `
Exit codes:
  ${EXIT.ok}    success
  ${EXIT.internal}    internal: the service failed (5xx) or could not be reached; retrying may help
  ${EXIT.usage}    usage: a wrong command line, or a request the API refused as invalid (400)
  ${EXIT.authentication}    authentication: no credentials, or the API did not accept them
  ${EXIT.accessDenied}    access denied: the caller may not do this (403)
  ${EXIT.notFound}    not found: no such key, document, job or route (404)
  ${EXIT.conflict}    conflict: the state forbids it (disabled key, changed document: 409, 410, 412)
  ${EXIT.throttled}    throttled: too many requests or a quota reached (429); retry with backoff
  ${EXIT.invalidCiphertext}    invalid ciphertext: it could not be decrypted and authenticated
  ${EXIT.interrupted}  interrupted (Ctrl-C)

The API's error code and message go to standard error; standard output gets only answers.
`;

/** The `eaas` program: global options and every command group. */
export function createProgram(runtime: Runtime): Command {
  const program = new Command('eaas')
    .description(
      'The eaas encryption service from the command line: encrypt, store documents, manage keys and jobs.',
    )
    .version(version(), '-V, --version')
    .addOption(new Option('--endpoint <url>', "the API's base URL").env('EAAS_ENDPOINT'))
    .option(
      '--region <region>',
      'the region to sign requests for (default: AWS_REGION, the config file, us-east-1)',
    )
    .option('--profile <name>', 'the AWS profile whose credentials sign requests (default: AWS_PROFILE)')
    .option('--config <file>', 'the config file (default: EAAS_CONFIG or ~/.config/eaas/config.json)')
    .addOption(
      new Option(
        '-o, --output <format>',
        'json for scripts, text for people (default: text on a terminal)',
      ).choices(['json', 'text']),
    )
    .option('-q, --quiet', 'no progress bar')
    .addHelpText('after', EXIT_CODES_HELP)
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => runtime.stdout.write(s),
      writeErr: (s) => runtime.stderr.write(s),
    })
    .exitOverride();
  for (const register of [
    registerCrypto,
    registerDocuments,
    registerKeys,
    registerJobs,
    registerWhoami,
    registerCompletion,
  ])
    register(program, runtime);
  // Every subcommand reports as the program does: errors to standard error, exits decided by main.
  const inherit = (command: Command) => {
    for (const sub of command.commands) {
      sub.exitOverride().configureOutput({
        writeOut: (s) => runtime.stdout.write(s),
        writeErr: (s) => runtime.stderr.write(s),
      });
      sub.showHelpAfterError('(run with --help for usage)');
      inherit(sub);
    }
  };
  inherit(program);
  return program;
}
