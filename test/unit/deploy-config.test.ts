import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { FUNCTIONS, ROUTES } from '../../src/http/routes.js';

interface HttpEvent {
  http: { path: string; method: string; authorizer?: string };
}
const sls = parse(readFileSync('serverless.yml', 'utf8')) as {
  provider: { runtime: string; apiGateway: { binaryMediaTypes: string[] } };
  functions: Record<string, { handler: string; events: HttpEvent[] }>;
};

describe('serverless.yml and the route table agree', () => {
  it('declares exactly the functions of the route table, each with its handler module', () => {
    expect(Object.keys(sls.functions).sort()).toEqual(Object.keys(FUNCTIONS).sort());
    for (const [name, fn] of Object.entries(sls.functions))
      expect(fn.handler).toBe(`src/handlers/${name}.handler`);
  });

  it('declares exactly the routes of the table, each behind AWS_IAM', () => {
    const declared = Object.entries(sls.functions).flatMap(([name, fn]) =>
      fn.events.map((e) => `${name} ${e.http.method.toUpperCase()} /${e.http.path} ${e.http.authorizer}`),
    );
    const expected = ROUTES.map((r) => `${r.function} ${r.method} ${r.path} aws_iam`);
    expect(declared.sort()).toEqual(expected.sort());
  });

  it('runs on nodejs22.x and passes octet-stream bodies as binary, as the local gateway does', async () => {
    const { BINARY_MEDIA_TYPES } = await import('../../src/local/gateway.js');
    expect(sls.provider.runtime).toBe('nodejs22.x');
    expect(sls.provider.apiGateway.binaryMediaTypes).toEqual([...BINARY_MEDIA_TYPES]);
  });
});
