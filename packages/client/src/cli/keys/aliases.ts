import type { Command } from 'commander';
import { integer, type PageFlags, pageOf, withNext } from '../options.js';
import { table } from '../output.js';
import { action, type Runtime } from '../runtime.js';

/** `eaas keys aliases list|put|delete`. */
export function registerAliases(keys: Command, runtime: Runtime): void {
  const aliases = keys.command('aliases').description('aliases of keys: list, put, delete');
  aliases
    .command('list')
    .description('the aliases of the keys you may describe')
    .option('--key <key>', 'only the aliases of this key')
    .option('--limit <n>', 'aliases per page (1-100)', integer(1, 100))
    .option('--next-token <token>', 'the next page, as the previous answer gave it')
    .action(
      action(runtime, async (ctx, flags: PageFlags & { key?: string }) => {
        const answer = await (await ctx.client()).keys.listAliases({
          ...pageOf(flags),
          ...(flags.key ? { keyId: flags.key } : {}),
        });
        ctx.printer.value(answer, () => withNext(table(answer.aliases, ['name', 'keyId']), answer.nextToken));
      }),
    );
  aliases
    .command('put <name> <key>')
    .description('create an alias, or point it at another key')
    .action(
      action(runtime, async (ctx, name: string, key: string) => {
        ctx.printer.value(await (await ctx.client()).keys.putAlias(name, key));
      }),
    );
  aliases
    .command('delete <name>')
    .description('delete an alias (not its key)')
    .action(
      action(runtime, async (ctx, name: string) => {
        ctx.printer.value(await (await ctx.client()).keys.deleteAlias(name));
      }),
    );
}
