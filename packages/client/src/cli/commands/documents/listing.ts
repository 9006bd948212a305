import type { ObjectView } from '../../../documents-types.js';
import { UsageError } from '../../exit-codes.js';
import type { CommandContext } from '../../runtime.js';
import { bytesText } from './progress.js';

/** `eaas ls [PREFIX]`: every page (or --limit items); `eaas head KEY`; `eaas rm KEY`. */
export async function ls(
  ctx: CommandContext,
  prefix: string | undefined,
  options: { limit?: string; nextToken?: string },
): Promise<void> {
  const limit = options.limit === undefined ? undefined : Number(options.limit);
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1))
    throw new UsageError('--limit must be a whole number >= 1');
  const client = await ctx.client();
  const objects: ObjectView[] = [];
  let nextToken = options.nextToken;
  do {
    const page = await client.documents.list({
      ...(prefix ? { prefix } : {}),
      ...(limit !== undefined ? { limit: Math.min(100, limit - objects.length) } : {}),
      ...(nextToken ? { nextToken } : {}),
    });
    objects.push(...page.objects);
    nextToken = page.nextToken;
  } while (nextToken && (limit === undefined || objects.length < limit));
  ctx.printer.rows(
    { objects, ...(nextToken ? { nextToken } : {}) },
    objects.map((o) => ({
      key: o.key,
      size: bytesText(o.size),
      modified: o.lastModified,
      format: o.format,
    })),
  );
}

export async function head(ctx: CommandContext, key: string): Promise<void> {
  const view = await (await ctx.client()).documents.metadata(key);
  ctx.printer.value(view);
}

export async function rm(ctx: CommandContext, key: string): Promise<void> {
  const out = await (await ctx.client()).documents.delete(key);
  ctx.printer.value(out);
}
