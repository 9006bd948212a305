import { readFileSync } from 'node:fs';
import { isBase64 } from '@eaas/aws-rules';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { generateValidators } from '../../scripts/validators.js';
import { type FunctionName, ROUTES } from '../../src/http/routes.js';
import { ucs2length, type Validator } from '../../src/http/validate.js';
import { VALIDATORS as crypto } from '../../src/http/validators/crypto.js';
import { VALIDATORS as jobs } from '../../src/http/validators/jobs.js';
import { VALIDATORS as keys } from '../../src/http/validators/keys.js';
import { VALIDATORS as objects } from '../../src/http/validators/objects.js';
import { VALIDATORS as streams } from '../../src/http/validators/streams.js';
import { VALIDATORS as uploads } from '../../src/http/validators/uploads.js';
import { VALIDATORS as whoami } from '../../src/http/validators/whoami.js';

const BY_FUNCTION: Record<FunctionName, Readonly<Record<string, Validator>>> = {
  crypto,
  jobs,
  keys,
  objects,
  streams,
  uploads,
  whoami,
};

/** ajv compiling the route table's schemas at run time, as src/http/validate.ts did before. */
const runtime = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictRequired: false });
runtime.addFormat('byte', { type: 'string', validate: isBase64 });

const outcome = (v: Validator, value: unknown) => {
  const ok = v(value);
  return { ok, errors: (v.errors ?? []).map((e) => `${e.instancePath} ${e.keyword} ${e.message}`) };
};

describe('the precompiled request validators (npm run validators)', () => {
  it('are up to date with the route table', () => {
    for (const [path, text] of Object.entries(generateValidators()))
      expect(readFileSync(path, 'utf8'), `${path}: run npm run validators`).toBe(text);
  });

  it.each(ROUTES.filter((r) => r.request && !r.rawBody).map((r) => [r.operationId, r] as const))(
    '%s answers as ajv compiling its schema at run time does',
    (operationId, route) => {
      const precompiled = BY_FUNCTION[route.function][operationId];
      expect(precompiled).toBeDefined();
      const compiled = runtime.compile(route.request as object) as Validator;
      const example = route.example ?? {};
      const samples: unknown[] = [
        example,
        {},
        [],
        'text',
        { ...example, unknownMember: 1 },
        ...Object.keys(example).flatMap((k) => [
          { ...example, [k]: undefined },
          { ...example, [k]: '%%% not base64 %%%' },
          { ...example, [k]: 12 },
          { ...example, [k]: 'x'.repeat(9000) },
        ]),
      ];
      for (const sample of samples)
        expect(outcome(precompiled as Validator, sample), JSON.stringify(sample)?.slice(0, 200)).toEqual(
          outcome(compiled, sample),
        );
    },
  );

  it('counts a surrogate pair as one character, as JSON Schema does', () => {
    expect(ucs2length('abc')).toBe(3);
    expect(ucs2length('a😀b')).toBe(3);
    expect(ucs2length('\ud83d')).toBe(1);
  });
});
