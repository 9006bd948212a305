import { type Command, Option } from 'commander';
import type { CreateKeyInput } from '../../key-types.js';
import { UsageError } from '../exit-codes.js';
import { parseContext } from '../input.js';
import { collect, integer, type PageFlags, pageOf, withNext } from '../options.js';
import { table } from '../output.js';
import { action, type Runtime } from '../runtime.js';
import { KEY_COLUMNS, keyRow, printKey } from './view.js';

interface CreateFlags {
  description?: string;
  alias?: string;
  keySpec?: string;
  keyUsage?: CreateKeyInput['keyUsage'];
  origin?: CreateKeyInput['origin'];
  admin?: string[];
  user?: string[];
  tag?: string[];
  rotation?: boolean;
  rotationPeriod?: number;
}

/** `eaas keys create|list|describe|enable|disable|schedule-deletion|cancel-deletion`. */
export function registerLifecycle(keys: Command, runtime: Runtime): void {
  keys
    .command('create')
    .description('create a key; you administer it')
    .option('--description <text>', 'what the key is for')
    .option('--alias <name>', 'an alias for it (alias/NAME)')
    .option('--key-spec <spec>', 'SYMMETRIC_DEFAULT (default), RSA_2048..4096, ECC_*, HMAC_*')
    .addOption(
      new Option('--key-usage <usage>', 'what it is for (an RSA key must say)').choices([
        'ENCRYPT_DECRYPT',
        'SIGN_VERIFY',
        'GENERATE_VERIFY_MAC',
      ]),
    )
    .addOption(
      new Option('--origin <origin>', 'EXTERNAL: no material until you import it (keys import)').choices([
        'AWS_KMS',
        'EXTERNAL',
      ]),
    )
    .option('--admin <arn>', 'another administrator (repeatable)', collect)
    .option('--user <arn>', 'a user of the key (repeatable)', collect)
    .option('--tag <k=v>', 'a tag (repeatable)', collect)
    .option('--rotation-period <days>', 'automatic rotation every DAYS (90-2560)', integer(90, 2560))
    .option('--no-rotation', 'no automatic rotation')
    .action(
      action(runtime, async (ctx, flags: CreateFlags) => {
        const tags = flags.tag ? parseContext(flags.tag) : undefined;
        if (flags.rotation === false && flags.rotationPeriod !== undefined)
          throw new UsageError('--rotation-period and --no-rotation contradict each other');
        const input: CreateKeyInput = {
          ...(flags.description !== undefined ? { description: flags.description } : {}),
          ...(flags.alias ? { alias: flags.alias } : {}),
          ...(flags.keySpec ? { keySpec: flags.keySpec } : {}),
          ...(flags.keyUsage ? { keyUsage: flags.keyUsage } : {}),
          ...(flags.origin ? { origin: flags.origin } : {}),
          ...(flags.admin ? { administrators: flags.admin } : {}),
          ...(flags.user ? { users: flags.user } : {}),
          ...(tags ? { tags } : {}),
          ...(flags.rotation === false
            ? { rotation: { enabled: false } }
            : flags.rotationPeriod !== undefined
              ? { rotation: { enabled: true, periodInDays: flags.rotationPeriod } }
              : {}),
        };
        printKey(ctx.printer, await (await ctx.client()).keys.create(input));
      }),
    );

  keys
    .command('list')
    .description('the keys you administer or use')
    .option('--limit <n>', 'keys per page (1-100)', integer(1, 100))
    .option('--next-token <token>', 'the next page, as the previous answer gave it')
    .action(
      action(runtime, async (ctx, flags: PageFlags) => {
        const answer = await (await ctx.client()).keys.list(pageOf(flags));
        ctx.printer.value(answer, () =>
          withNext(table(answer.keys.map(keyRow), KEY_COLUMNS), answer.nextToken),
        );
      }),
    );

  const simple = (
    name: string,
    description: string,
    run: 'describe' | 'enable' | 'disable' | 'cancelDeletion',
  ) =>
    keys
      .command(`${name} <key>`)
      .description(description)
      .action(
        action(runtime, async (ctx, key: string) => {
          printKey(ctx.printer, await (await ctx.client()).keys[run](key));
        }),
      );
  simple('describe', 'a key (id, ARN or alias) with its aliases and tags', 'describe');
  simple('enable', 'enable a key', 'enable');
  simple('disable', 'disable a key: nothing can be encrypted or decrypted under it until enabled', 'disable');
  simple('cancel-deletion', 'cancel a scheduled deletion (the key stays disabled)', 'cancelDeletion');

  keys
    .command('schedule-deletion <key>')
    .description('schedule the deletion of a key, 7-30 days ahead (cancel-deletion undoes it until then)')
    .option('--days <n>', 'days before the key is deleted (7-30, default 30)', integer(7, 30))
    .action(
      action(runtime, async (ctx, key: string, flags: { days?: number }) => {
        printKey(ctx.printer, await (await ctx.client()).keys.scheduleDeletion(key, flags.days));
      }),
    );
}
