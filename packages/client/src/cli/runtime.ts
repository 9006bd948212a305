import type { Readable, Writable } from 'node:stream';
import type { Command } from 'commander';
import type { EaasClient } from '../eaas-client.js';
import { type GlobalOptions, resolveSettings, type Settings } from './config.js';
import { outputFormatOf, Printer } from './output.js';

/** The process the command line runs in: its streams and environment (tests give their own). */
export interface Runtime {
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean; columns?: number };
  env: NodeJS.ProcessEnv;
}

export function processRuntime(): Runtime {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };
}

/** What a command's action is given: the printer, the client, and whether to show progress. */
export interface CommandContext {
  runtime: Runtime;
  printer: Printer;
  /** Whether a progress bar may be drawn: standard error is a terminal and `--quiet` was not given. */
  progress: boolean;
  settings(): Promise<Settings>;
  /** The API client for this run, made on first use (credentials are resolved then). */
  client(): Promise<EaasClient>;
}

interface RunOptions extends GlobalOptions {
  output?: string;
  quiet?: boolean;
}

export function contextOf(command: Command, runtime: Runtime): CommandContext {
  const options = command.optsWithGlobals<RunOptions>();
  let settings: Promise<Settings> | undefined;
  let client: Promise<EaasClient> | undefined;
  const context: CommandContext = {
    runtime,
    printer: new Printer(outputFormatOf(options.output, Boolean(runtime.stdout.isTTY)), runtime.stdout),
    progress: Boolean(runtime.stderr.isTTY) && !options.quiet,
    settings: () => {
      settings ??= resolveSettings(options, runtime.env);
      return settings;
    },
    client: () => {
      client ??= (async () => {
        const { endpoint, region, credentials } = await context.settings();
        const { EaasClient } = await import('../eaas-client.js');
        return new EaasClient({ endpoint, region, credentials });
      })();
      return client;
    },
  };
  return context;
}

/**
 * A commander action that runs with a CommandContext: `action(rt, async (ctx, arg1, options) => ...)`.
 * Commander passes the positional arguments, then the options, then the command.
 */
export function action<A extends unknown[]>(
  runtime: Runtime,
  run: (context: CommandContext, ...args: A) => Promise<void>,
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    await run(contextOf(command, runtime), ...(args.slice(0, -1) as A));
  };
}
