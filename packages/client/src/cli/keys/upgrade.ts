import type { Command } from 'commander';
import type { EaasClient } from '../../eaas-client.js';
import { CliError, EXIT, type ExitCode, exitCodeOf, UsageError } from '../exit-codes.js';
import { table } from '../output.js';
import { action, type Runtime } from '../runtime.js';

/** What became of one key's policy. */
interface Upgrade {
  keyId: string;
  /** current: as the service writes it today; upgraded (or would be, in a dry run); custom: left as it is; refused: an error. */
  result: 'current' | 'upgraded' | 'would upgrade' | 'custom' | 'refused';
  detail?: string;
  /** For a refusal, the exit code its error has on its own. */
  exit?: ExitCode;
}

/** The keys the caller administers, every page of GET /v1/keys (keys it only uses are not its to upgrade). */
async function administeredKeys(client: EaasClient): Promise<string[]> {
  const out: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.keys.list({ limit: 100, ...(nextToken ? { nextToken } : {}) });
    for (const key of page.keys) if (key.access?.administer !== false) out.push(key.keyId);
    nextToken = page.nextToken;
  } while (nextToken);
  return out;
}

/**
 * One key: a policy the service wrote in an earlier version, or naming other roles than this
 * deployment's (`outdated`), is put again with the same administrators and users, which the
 * service writes as today's; a policy someone wrote (not the service's shape) is left alone.
 */
async function upgradeOne(client: EaasClient, keyId: string, dryRun: boolean): Promise<Upgrade> {
  try {
    const policy = await client.keys.getPolicy(keyId);
    if (policy.managed) return { keyId, result: 'current' };
    if (!policy.outdated)
      return { keyId, result: 'custom', detail: 'not a policy the service wrote: left as it is' };
    if (dryRun) return { keyId, result: 'would upgrade' };
    const after = await client.keys.putPolicy(keyId, {
      administrators: policy.administrators,
      users: policy.users,
    });
    return after.managed
      ? { keyId, result: 'upgraded' }
      : { keyId, result: 'refused', detail: 'put, but still not as the service writes it' };
  } catch (error) {
    const code = (error as { code?: string }).code ?? (error as Error).name;
    return {
      keyId,
      result: 'refused',
      detail: `${code}: ${(error as Error).message}`,
      exit: exitCodeOf(error),
    };
  }
}

/** `eaas keys policy upgrade [keys...] [--all] [--dry-run]`. */
export function registerUpgrade(policy: Command, runtime: Runtime): void {
  policy
    .command('upgrade [keys...]')
    .description(
      "put again, with the same administrators and users, each key policy the service wrote in an earlier version or for other roles (needed after an upgrade that added roles); others' policies are left as they are",
    )
    .option('--all', 'every key you administer')
    .option('--dry-run', 'say what would change, change nothing')
    .action(
      action(runtime, async (ctx, keys: string[], flags: { all?: boolean; dryRun?: boolean }) => {
        if (flags.all === true && keys.length > 0)
          throw new UsageError('Name keys, or give --all, not both.');
        if (flags.all !== true && keys.length === 0)
          throw new UsageError('Name the keys to upgrade, or give --all.');
        const client = await ctx.client();
        const chosen = flags.all === true ? await administeredKeys(client) : keys;
        const results: Upgrade[] = [];
        // One key at a time: each is a read and at most one write of a key policy (KMS's
        // PutKeyPolicy quota is small), and an operator reads the outcome key by key.
        for (const keyId of chosen) results.push(await upgradeOne(client, keyId, flags.dryRun === true));
        const shown = results.map(({ exit: _exit, ...rest }) => rest);
        ctx.printer.value({ keys: shown }, () => table(shown, ['keyId', 'result', 'detail']));
        const refused = results.filter((r) => r.result === 'refused');
        if (refused.length > 0)
          throw new CliError(
            'UpgradeIncomplete',
            `${refused.length} of ${results.length} key policies could not be upgraded (see the table).`,
            refused[0]?.exit ?? EXIT.internal,
          );
      }),
    );
}
