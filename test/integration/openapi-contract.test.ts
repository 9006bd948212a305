import { readFileSync } from 'node:fs';
import { validate as validateSpec } from '@readme/openapi-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { openApiDocument, openApiPath } from '../../src/http/openapi.js';
import { ROUTES, type Route } from '../../src/http/routes.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

const fileText = readFileSync('openapi.yaml', 'utf8');
let t: TestStack;

beforeAll(async () => {
  t = await startTestStack();
});
afterAll(() => t.stop());

describe('openapi.yaml', () => {
  it('is what `npm run openapi` generates from the route table (run it after changing routes)', () => {
    expect(parse(fileText)).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
  });

  it('validates as OpenAPI 3.1', async () => {
    const result = await validateSpec(parse(fileText));
    expect(result.valid ? [] : result.errors).toEqual([]);
    expect(result.specification).toBe('OpenAPI');
  });

  it('documents every route of the table with its examples', () => {
    const doc = parse(fileText) as { paths: Record<string, Record<string, { operationId: string }>> };
    for (const route of ROUTES) {
      expect(doc.paths[openApiPath(route.path)]?.[route.method.toLowerCase()]?.operationId).toBe(
        route.operationId,
      );
    }
  });
});

/** The route's path with example values for its parameters. */
function concretePath(route: Route): string {
  const values: Record<string, string> = {
    keyId: 'alias/eaas-default',
    name: 'contract-test',
    grantId: 'no-such-grant',
  };
  return route.path.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(values[name] ?? name));
}

describe('the handlers accept what the spec accepts and refuse what it refuses', () => {
  const withBody = ROUTES.filter((r) => r.request && r.example);
  const withRequired = withBody.filter(
    (r) => ((r.request as { required?: string[] }).required ?? []).length > 0,
  );

  it.each(withBody.map((r) => [r.operationId, r] as const))(
    '%s: the example passes validation',
    async (_id, route) => {
      const res = await t.client().raw(route.method, concretePath(route), route.example);
      // The examples name a ciphertext made by another KMS; decrypting it fails past validation, not at it.
      expect((res.body as { error?: string }).error).not.toBe('ValidationError');
      expect(res.status).toBeLessThan(500);
    },
  );

  it.each(withRequired.map((r) => [r.operationId, r] as const))(
    '%s: each required property missing is a 400 ValidationError',
    async (_id, route) => {
      const required = (route.request as { required: string[] }).required;
      expect(required.length).toBeGreaterThan(0);
      for (const name of required) {
        const body = { ...route.example };
        delete body[name];
        const res = await t.client().raw(route.method, concretePath(route), body);
        expect(res.status, name).toBe(400);
        expect(res.body, name).toMatchObject({
          error: 'ValidationError',
          details: expect.arrayContaining([
            expect.objectContaining({ message: expect.stringContaining(name) }),
          ]),
        });
      }
    },
  );

  it.each(withBody.map((r) => [r.operationId, r] as const))(
    '%s: an unknown property is a 400 ValidationError',
    async (_id, route) => {
      const res = await t
        .client()
        .raw(route.method, concretePath(route), { ...route.example, surprise: true });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'ValidationError' });
    },
  );

  it.each(withBody.filter((r) => r.batch).map((r) => [r.operationId, r] as const))(
    '%s: a batch of the example is answered per item',
    async (_id, route) => {
      const res = await t
        .client()
        .raw(route.method, concretePath(route), { items: [route.example, route.example] });
      expect(res.status).toBe(200);
      expect((res.body as { items: unknown[] }).items).toHaveLength(2);
    },
  );
});
