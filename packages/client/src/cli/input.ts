import { UsageError } from './exit-codes.js';

/**
 * An encryption context from the command line: `k=v` pairs (repeatable), or one JSON object
 * (`--context '{"k":"v"}'`). Values may hold `=`; only the first one splits.
 */
export function parseContext(values: readonly string[] | undefined): Record<string, string> | undefined {
  if (!values || values.length === 0) return undefined;
  if (values.length === 1 && values[0]?.trimStart().startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(values[0]);
    } catch {
      throw new UsageError('--context: not a JSON object');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new UsageError('--context: not a JSON object');
    for (const [k, v] of Object.entries(parsed))
      if (typeof v !== 'string') throw new UsageError(`--context: the value of ${k} is not a string`);
    return parsed as Record<string, string>;
  }
  const context: Record<string, string> = {};
  for (const pair of values) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--context: ${JSON.stringify(pair)} is not key=value`);
    const key = pair.slice(0, at);
    if (key in context) throw new UsageError(`--context: ${key} is given twice`);
    context[key] = pair.slice(at + 1);
  }
  return context;
}
