import { readFile } from 'node:fs/promises';
import { InvalidArgumentError } from 'commander';
import { CliError, EXIT } from './exit-codes.js';

/** Option parsers and helpers the command groups share. */

/** A commander argument parser of a whole number in [min, max]. */
export const integer =
  (min: number, max: number) =>
  (value: string): number => {
    const n = Number(value);
    if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`a whole number from ${min} to ${max}`);
    return n;
  };

/**
 * A commander argument parser of a polling interval in seconds (fractions allowed), as
 * milliseconds: at least half a second, so that a watch never asks the API in a tight loop.
 */
export const seconds = (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0.5 || n > 3600) throw new InvalidArgumentError('seconds, from 0.5 to 3600');
  return Math.round(n * 1000);
};

/** Repeatable options: each value appended. */
export const collect = (value: string, previous: string[] | undefined): string[] => [
  ...(previous ?? []),
  value,
];

export interface PageFlags {
  limit?: number;
  nextToken?: string;
}

/** The page options of a listing command (`--limit`, `--next-token`). */
export function pageOf(flags: PageFlags): { limit?: number; nextToken?: string } {
  return {
    ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
    ...(flags.nextToken ? { nextToken: flags.nextToken } : {}),
  };
}

/** A local file's bytes; a file that cannot be read is a usage error naming it. */
export async function readLocal(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'FileError';
    throw new CliError(
      code === 'ENOENT' ? 'FileNotFound' : code,
      `cannot read ${path}: ${(error as Error).message}`,
      EXIT.usage,
    );
  }
}

/** A local file holding a JSON object. */
export async function readJsonObject(path: string): Promise<Record<string, unknown>> {
  const text = (await readLocal(path)).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError('MalformedJson', `${path} is not JSON`, EXIT.usage);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new CliError('MalformedJson', `${path} is not a JSON object`, EXIT.usage);
  return parsed as Record<string, unknown>;
}

/** A listing's text: its table, then where the next page starts. */
export function withNext(text: string, nextToken: string | undefined): string {
  return nextToken ? `${text}(more: --next-token ${nextToken})\n` : text;
}
