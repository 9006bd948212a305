import type { Command } from 'commander';
import type { StartJobInput } from '../../jobs-api.js';
import type { JobView } from '../../types.js';
import { CliError, EXIT, UsageError } from '../exit-codes.js';
import { watchJob } from '../jobs/watch.js';
import { integer, type PageFlags, pageOf, seconds, withNext } from '../options.js';
import { table } from '../output.js';
import { action, type CommandContext, type Runtime } from '../runtime.js';

const JOB_COLUMNS = ['id', 'state', 'mode', 'prefix', 'dryRun', 'destinationKeyId', 'createdAt'] as const;

/** A finished job's exit: 0 when it succeeded, 9 when it completed with failures, failed or was cancelled. */
export function finish(ctx: Pick<CommandContext, 'printer'>, job: JobView): void {
  ctx.printer.value(job);
  if (job.state === 'completed-with-failures' || job.state === 'failed' || job.state === 'cancelled')
    throw new CliError(
      'JobCompletedWithFailures',
      `job ${job.id}: ${job.report?.summary ?? 'completed with failures'}`,
      EXIT.jobFailures,
    );
}

interface StartFlags {
  source?: string;
  olderThanRotation?: boolean;
  destination: string;
  prefix?: string;
  dryRun?: boolean;
  concurrency?: number;
  engine?: 'scheduled' | 'batch' | 'auto';
  watch?: boolean;
  interval?: number;
}

/** The --engine flag: one of the API's engines. */
function engineOf(value: string): 'scheduled' | 'batch' | 'auto' {
  if (value === 'scheduled' || value === 'batch' || value === 'auto') return value;
  throw new UsageError(`--engine must be scheduled, batch or auto, not ${JSON.stringify(value)}`);
}

/** `eaas jobs start|status|watch|cancel|list`: re-encryption jobs. */
export function register(program: Command, runtime: Runtime): void {
  const jobs = program.command('jobs').description('re-encryption jobs: start, status, watch, cancel, list');
  jobs
    .command('start')
    .description('start (or dry-run) a job re-wrapping the data keys of stored documents onto a key')
    .requiredOption('--destination <key>', 'the key to re-wrap onto (you administer it)')
    .option('--source <key>', 'the documents under this key (you administer it too)')
    .option(
      '--older-than-rotation',
      "instead of --source: the destination's documents wrapped before its last rotation",
    )
    .option('--prefix <prefix>', 'only documents whose name starts with this')
    .option('--dry-run', 'change nothing')
    .option('--concurrency <n>', 'documents re-wrapped at once (1-32, default 4)', integer(1, 32))
    .option(
      '--engine <engine>',
      'scheduled, batch (S3 Batch Operations, where deployed) or auto (default: batch above the threshold)',
      engineOf,
    )
    .option('--watch', 'then watch it until it finishes (exit codes as jobs watch)')
    .option('--interval <seconds>', 'with --watch: how often to ask (default 2)', seconds)
    .action(
      action(runtime, async (ctx, flags: StartFlags) => {
        if (Boolean(flags.source) === Boolean(flags.olderThanRotation))
          throw new UsageError('give --source KEY or --older-than-rotation (one of them)');
        const input: StartJobInput = {
          destinationKeyId: flags.destination,
          ...(flags.source ? { sourceKeyId: flags.source } : { olderThanRotation: true }),
          ...(flags.prefix !== undefined ? { prefix: flags.prefix } : {}),
          ...(flags.dryRun ? { dryRun: true } : {}),
          ...(flags.concurrency !== undefined ? { concurrency: flags.concurrency } : {}),
          ...(flags.engine !== undefined ? { engine: flags.engine } : {}),
        };
        const client = await ctx.client();
        const job = await client.jobs.startReEncrypt(input);
        if (!flags.watch) return ctx.printer.value(job);
        finish(ctx, await watchJob(ctx, () => client.jobs.get(job.id), flags.interval ?? 2000));
      }),
    );
  jobs
    .command('status <id>')
    .description("a job's state and, once finished, its report")
    .action(
      action(runtime, async (ctx, id: string) => {
        ctx.printer.value(await (await ctx.client()).jobs.get(id));
      }),
    );
  jobs
    .command('watch <id>')
    .description(
      `wait for a job to finish, with a progress bar on standard error on a terminal; exit ${EXIT.ok} when it succeeded, ${EXIT.jobFailures} when it completed with failures`,
    )
    .option('--interval <seconds>', 'how often to ask (default 2)', seconds)
    .action(
      action(runtime, async (ctx, id: string, flags: { interval?: number }) => {
        const client = await ctx.client();
        finish(ctx, await watchJob(ctx, () => client.jobs.get(id), flags.interval ?? 2000));
      }),
    );
  jobs
    .command('cancel <id>')
    .description(
      'cancel a job: it stops, documents already re-wrapped stay so; a cancelled job is shown as it is, a finished one refused (exit 6)',
    )
    .action(
      action(runtime, async (ctx, id: string) => {
        ctx.printer.value(await (await ctx.client()).jobs.cancel(id));
      }),
    );
  jobs
    .command('list')
    .description('your own jobs, newest first')
    .option('--limit <n>', 'jobs per page (1-100)', integer(1, 100))
    .option('--next-token <token>', 'the next page, as the previous answer gave it')
    .action(
      action(runtime, async (ctx, flags: PageFlags) => {
        const answer = await (await ctx.client()).jobs.list(pageOf(flags));
        ctx.printer.value(answer, () =>
          withNext(table(answer.jobs as unknown as Record<string, unknown>[], JOB_COLUMNS), answer.nextToken),
        );
      }),
    );
}
