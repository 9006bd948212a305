import { isBase64 } from '@eaas/aws-rules';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { ValidationError } from '../core/errors.js';

const ajv = new Ajv2020({
  allErrors: true,
  strict: true,
  strictTypes: false,
  strictRequired: false,
  useDefaults: false,
});

// OpenAPI's name for base64 strings.
ajv.addFormat('byte', { type: 'string', validate: isBase64 });
const compiled = new WeakMap<object, ValidateFunction>();

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

/** Validates a value against a JSON Schema, throwing a ValidationError that lists the problems. */
export function validate<T>(schema: object, value: unknown, what = 'request body'): T {
  let fn = compiled.get(schema);
  if (!fn) {
    fn = ajv.compile(schema);
    compiled.set(schema, fn);
  }
  if (fn(value)) return value as T;
  const details = (fn.errors ?? []).slice(0, 10).map(describe);
  const first = details[0];
  throw new ValidationError(`Invalid ${what}${first ? `: ${first.path} ${first.message}` : ''}.`, details);
}
