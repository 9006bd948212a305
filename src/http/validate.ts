import { ValidationError } from '../core/errors.js';

/** What the validators report of each problem: ajv's error objects, the members read here. */
interface ErrorObject {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

/**
 * A request validator: ajv's code for one JSON Schema of the route table, compiled ahead of time
 * (`npm run validators` writes `src/http/validators/<function>.ts`), so that neither ajv nor a
 * compilation is part of a Lambda function: ajv is a development tool.
 */
export type Validator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

function describe(e: ErrorObject): { path: string; message: string } {
  const path = e.instancePath === '' ? '(body)' : e.instancePath.slice(1).replace(/\//g, '.');
  if (e.keyword === 'additionalProperties') {
    return {
      path,
      message: `unknown property ${JSON.stringify((e.params as { additionalProperty: string }).additionalProperty)}`,
    };
  }
  if (e.keyword === 'format') return { path, message: 'must be base64' };
  if (e.keyword === 'not') return { path, message: 'give keySpec or numberOfBytes, not both' };
  return { path, message: e.message ?? 'is invalid' };
}

/** Validates a value with its schema's validator, throwing a ValidationError that lists the problems. */
export function validate<T>(validator: Validator, value: unknown, what = 'request body'): T {
  if (validator(value)) return value as T;
  const details = (validator.errors ?? []).slice(0, 10).map(describe);
  const first = details[0];
  throw new ValidationError(`Invalid ${what}${first ? `: ${first.path} ${first.message}` : ''}.`, details);
}

/**
 * A string's length as JSON Schema counts it, in code points (a surrogate pair is one), for the
 * validators' minLength and maxLength: ajv's `ucs2length` (MIT), which they would otherwise load
 * from ajv at run time.
 */
export function ucs2length(str: string): number {
  const len = str.length;
  let length = 0;
  let pos = 0;
  while (pos < len) {
    length++;
    const value = str.charCodeAt(pos++);
    // A high surrogate followed by a low one is one character.
    if (value >= 0xd800 && value <= 0xdbff && pos < len && (str.charCodeAt(pos) & 0xfc00) === 0xdc00) pos++;
  }
  return length;
}
