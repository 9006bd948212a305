import { contextProblems, type EncryptionContext, parseJsonStrict } from '@eaas/aws-rules';
import { ValidationError } from '../core/errors.js';
import { refuseSpacePair } from '../core/spaces.js';

/** Query parameters the routes share: an encryption context as URL-encoded JSON, a page size. */

/** `?context=` as an encryption context; undefined when absent. */
export function contextFromQuery(text: string | undefined): EncryptionContext | undefined {
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = parseJsonStrict(text);
  } catch {
    throw new ValidationError('context must be a URL-encoded JSON object of strings.');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new ValidationError('context must be a URL-encoded JSON object of strings.');
  const problems = contextProblems(parsed as Record<string, unknown>, 'context');
  if (problems.length > 0)
    throw new ValidationError(`Invalid context: ${problems[0]?.path} ${problems[0]?.message}.`, problems);
  refuseSpacePair(parsed as EncryptionContext);
  return parsed as EncryptionContext;
}

/** `?limit=`: 1-100, 50 by default. */
export function limitFromQuery(query: Record<string, string>): number {
  if (query.limit === undefined) return 50;
  const n = Number(query.limit);
  if (!Number.isInteger(n) || n < 1 || n > 100)
    throw new ValidationError('limit must be a whole number from 1 to 100.');
  return n;
}
