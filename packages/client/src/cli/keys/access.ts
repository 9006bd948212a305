import type { Command } from 'commander';
import type { CreateGrantInput, PolicyInput } from '../../key-types.js';
import { UsageError } from '../exit-codes.js';
import { parseContext } from '../input.js';
import { collect, integer, type PageFlags, pageOf, readJsonObject, withNext } from '../options.js';
import { fields, table } from '../output.js';
import { action, type Runtime } from '../runtime.js';
import { registerUpgrade } from './upgrade.js';

/** `eaas keys policy get|put` and `keys grants list|create|revoke`. */
export function registerAccess(keys: Command, runtime: Runtime): void {
  const policy = keys.command('policy').description("a key's administrators, users and policy document");
  policy
    .command('get <key>')
    .description('administrators, users and the key policy document')
    .action(
      action(runtime, async (ctx, key: string) => {
        const answer = await (await ctx.client()).keys.getPolicy(key);
        ctx.printer.value(answer, () => {
          const { policy: document, ...rest } = answer;
          return `${fields(rest)}\n${typeof document === 'string' ? document : JSON.stringify(document, null, 2)}\n`;
        });
      }),
    );
  policy
    .command('put <key>')
    .description(
      'set the administrators and users, or a whole policy document, from a JSON file: {"administrators": [...], "users": [...]}, {"policy": {...}}, or a policy document itself',
    )
    .requiredOption('--file <file>', 'the JSON file')
    .action(
      action(runtime, async (ctx, key: string, flags: { file: string }) => {
        const body = await readJsonObject(flags.file);
        // A policy document itself (it has a Statement) is sent as `policy`.
        const input = ('Statement' in body ? { policy: body } : body) as PolicyInput;
        const answer = await (await ctx.client()).keys.putPolicy(key, input);
        ctx.printer.value(answer, () => {
          const { policy: _document, ...rest } = answer;
          return fields(rest);
        });
      }),
    );

  registerUpgrade(policy, runtime);

  const grants = keys.command('grants').description('grants on a key: list, create, revoke');
  grants
    .command('list <key>')
    .description('the grants on a key')
    .option('--limit <n>', 'grants per page (1-100)', integer(1, 100))
    .option('--next-token <token>', 'the next page, as the previous answer gave it')
    .action(
      action(runtime, async (ctx, key: string, flags: PageFlags) => {
        const answer = await (await ctx.client()).keys.listGrants(key, pageOf(flags));
        const rows = answer.grants.map((g) => ({ ...g, operations: g.operations.join(',') }));
        ctx.printer.value(answer, () =>
          withNext(
            table(rows, ['grantId', 'grantee', 'operations', 'name', 'constraints']),
            answer.nextToken,
          ),
        );
      }),
    );
  grants
    .command('create <key>')
    .description('grant a principal operations on a key, optionally bound to an encryption context')
    .requiredOption('--grantee <arn>', 'who receives the grant')
    .requiredOption(
      '--operation <op>',
      'an operation: Encrypt, Decrypt, GenerateDataKey... (repeatable)',
      collect,
    )
    .option(
      '--context-subset <k=v>',
      'only with an encryption context holding these pairs (repeatable)',
      collect,
    )
    .option('--context-equals <k=v>', 'only with exactly this encryption context (repeatable)', collect)
    .option('--name <name>', "the grant's name")
    .option('--retiring-principal <arn>', 'who may retire it')
    .action(
      action(
        runtime,
        async (
          ctx,
          key: string,
          flags: {
            grantee: string;
            operation: string[];
            contextSubset?: string[];
            contextEquals?: string[];
            name?: string;
            retiringPrincipal?: string;
          },
        ) => {
          if (flags.contextSubset && flags.contextEquals)
            throw new UsageError('give --context-subset or --context-equals, not both');
          const subset = parseContext(flags.contextSubset);
          const equals = parseContext(flags.contextEquals);
          const input: CreateGrantInput = {
            grantee: flags.grantee,
            operations: flags.operation,
            ...(subset ? { constraints: { encryptionContextSubset: subset } } : {}),
            ...(equals ? { constraints: { encryptionContextEquals: equals } } : {}),
            ...(flags.name ? { name: flags.name } : {}),
            ...(flags.retiringPrincipal ? { retiringPrincipal: flags.retiringPrincipal } : {}),
          };
          ctx.printer.value(await (await ctx.client()).keys.createGrant(key, input));
        },
      ),
    );
  grants
    .command('revoke <key> <grant-id>')
    .description('revoke a grant')
    .action(
      action(runtime, async (ctx, key: string, grantId: string) => {
        ctx.printer.value(await (await ctx.client()).keys.revokeGrant(key, grantId));
      }),
    );
}
