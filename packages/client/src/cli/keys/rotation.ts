import type { Command } from 'commander';
import { integer, type PageFlags, pageOf, withNext } from '../options.js';
import { table } from '../output.js';
import { action, type Runtime } from '../runtime.js';

/** `eaas keys rotate`, `keys rotation show|enable|disable`, `keys rotations`. */
export function registerRotation(keys: Command, runtime: Runtime): void {
  keys
    .command('rotate <key>')
    .description('rotate the key material now (older ciphertexts still decrypt)')
    .action(
      action(runtime, async (ctx, key: string) => {
        ctx.printer.value(await (await ctx.client()).keys.rotate(key));
      }),
    );

  const rotation = keys.command('rotation').description("a key's automatic rotation: show, enable, disable");
  rotation
    .command('show <key>')
    .description('whether automatic rotation is on, its period and next date')
    .action(
      action(runtime, async (ctx, key: string) => {
        ctx.printer.value(await (await ctx.client()).keys.getRotation(key));
      }),
    );
  rotation
    .command('enable <key>')
    .description('turn automatic rotation on')
    .option('--period <days>', 'rotate every DAYS (90-2560, default 365)', integer(90, 2560))
    .action(
      action(runtime, async (ctx, key: string, flags: { period?: number }) => {
        const input = {
          enabled: true,
          ...(flags.period !== undefined ? { periodInDays: flags.period } : {}),
        };
        ctx.printer.value(await (await ctx.client()).keys.putRotation(key, input));
      }),
    );
  rotation
    .command('disable <key>')
    .description('turn automatic rotation off')
    .action(
      action(runtime, async (ctx, key: string) => {
        ctx.printer.value(await (await ctx.client()).keys.putRotation(key, { enabled: false }));
      }),
    );

  keys
    .command('rotations <key>')
    .description("a key's rotation history")
    .option('--limit <n>', 'rotations per page (1-100)', integer(1, 100))
    .option('--next-token <token>', 'the next page, as the previous answer gave it')
    .action(
      action(runtime, async (ctx, key: string, flags: PageFlags) => {
        const answer = await (await ctx.client()).keys.listRotations(key, pageOf(flags));
        ctx.printer.value(answer, () =>
          withNext(
            table(answer.rotations, ['rotationDate', 'rotationType', 'current', 'keyMaterialId']),
            answer.nextToken,
          ),
        );
      }),
    );
}
