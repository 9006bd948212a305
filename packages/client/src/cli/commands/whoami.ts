import type { Command } from 'commander';
import { UsageError } from '../exit-codes.js';
import { parseContext } from '../input.js';
import { fields, table } from '../output.js';
import { action, type Runtime } from '../runtime.js';

interface WhoAmI extends Record<string, unknown> {
  key?: Record<string, unknown>;
  access?: {
    context?: Record<string, string>;
    operations: { route: string; action: string; allowed: boolean; explanation: string }[];
    grants: Record<string, unknown>[];
  };
}

/** `eaas whoami [--explain KEY]`: the caller as the API sees it, and what it may do with a key. */
export function register(program: Command, runtime: Runtime): void {
  program
    .command('whoami')
    .description('the caller as the API sees it; with --explain KEY, what it may do with the key and why')
    .option(
      '--explain <key>',
      'a key id, ARN or alias: each action of the API, allowed or not, and what decides it',
    )
    .option('--context <k=v...>', 'an encryption context to decide with (with --explain)')
    .action(
      action(runtime, async (ctx, options: { explain?: string; context?: string[] }) => {
        const query: Record<string, string> = {};
        if (options.explain) query.keyId = options.explain;
        const context = parseContext(options.context);
        if (context) {
          if (!options.explain) throw new UsageError('--context needs --explain KEY');
          query.context = JSON.stringify(context);
        }
        const answer = await (await ctx.client()).request<WhoAmI>('GET', '/v1/whoami', undefined, query);
        ctx.printer.value(answer, () => {
          const { key, access, ...caller } = answer;
          let text = fields(caller);
          if (key) text += `\nkey:\n${fields(key)}`;
          if (access)
            text += `\n${table(
              access.operations.map((o) => ({
                action: o.action,
                allowed: o.allowed ? 'yes' : 'no',
                why: o.explanation,
              })),
            )}`;
          return text;
        });
      }),
    );
}
