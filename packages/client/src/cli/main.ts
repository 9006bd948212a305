import { CommanderError } from 'commander';
import { EaasError, InvalidRequestError } from '../errors.js';
import { CliError, EXIT, exitCodeOf, UsageError } from './exit-codes.js';
import { printable } from './output.js';
import { createProgram } from './program.js';
import { processRuntime, type Runtime } from './runtime.js';

/** What goes to standard error for a failed run: the error's code and message, never a stack. */
export function describeError(error: unknown): string {
  // Line by line: the API's message can quote names others chose (see `printable`).
  return describe(error).split('\n').map(printable).join('\n');
}

function describe(error: unknown): string {
  if (error instanceof EaasError) {
    const lines = [`eaas: ${error.code}: ${error.message}`];
    if (Array.isArray(error.details))
      for (const d of error.details as { path?: string; message?: string }[])
        lines.push(`  ${d.path ?? ''}: ${d.message ?? ''}`);
    if (error.requestId) lines.push(`  request id: ${error.requestId}`);
    return `${lines.join('\n')}\n`;
  }
  if (error instanceof UsageError) return `eaas: ${error.message}\n(run with --help for usage)\n`;
  if (error instanceof CliError) return `eaas: ${error.code}: ${error.message}\n`;
  if (error instanceof InvalidRequestError) return `eaas: InvalidRequest: ${error.message}\n`;
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return 'eaas: Timeout: the API did not answer in time.\n';
  if (e?.message === 'fetch failed')
    return `eaas: Unreachable: cannot reach the API (${e.cause?.code ?? e.cause?.message ?? 'network error'}).\n`;
  if (e?.name === 'CredentialsProviderError')
    return `eaas: NoCredentials: ${e.message} (set AWS credentials, or give --profile)\n`;
  return `eaas: InternalError: ${e?.message ?? String(error)}\n`;
}

/** Runs `eaas` with these arguments; sets the process's exit code and never throws. */
export async function main(argv: readonly string[], runtime: Runtime = processRuntime()): Promise<number> {
  // A reader of standard output that goes away (`eaas ... | head`) ends the run quietly.
  runtime.stdout.on?.('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  });
  let code: number = EXIT.ok;
  try {
    await createProgram(runtime).parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has written its message (or the help) already.
      code = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    } else {
      runtime.stderr.write(describeError(error));
      code = exitCodeOf(error);
    }
  }
  process.exitCode = code;
  return code;
}
