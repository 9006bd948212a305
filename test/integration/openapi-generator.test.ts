import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * openapi.yaml as a client generator sees it: openapi-typescript (which validates the document
 * with Redocly's parser first) turns it into types, and a small use of them typechecks strictly,
 * while a request missing a required field does not.
 */
const exec = promisify(execFile);
const REPO = resolve(import.meta.dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'eaas-openapi-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const USE = `import type { operations, paths } from './api.js';

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;
type EncryptRequest = Json<NonNullable<operations['encrypt']['requestBody']>>;
type EncryptAnswer = Json<operations['encrypt']['responses'][200]>;
type WhoAmI = Json<operations['whoAmI']['responses'][200]>;

export const request: EncryptRequest = { keyId: 'alias/eaas-default', plaintext: 'aGVsbG8=', context: { tenant: 'acme' } };
export const objectPath: operations['getObject']['parameters']['path'] = { key: 'acme/report.txt' };
export const route: keyof paths = '/v1/objects/{key}';
export function ciphertextOf(answer: EncryptAnswer): string | undefined {
  return 'ciphertext' in answer ? answer.ciphertext : undefined;
}
export function principalOf(answer: WhoAmI): string {
  return answer.principal;
}
`;

async function typecheck(source: string): Promise<string> {
  writeFileSync(join(work, 'use.ts'), source);
  writeFileSync(
    join(work, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        types: [],
      },
      files: ['use.ts'],
    }),
  );
  return exec(join(REPO, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: work }).then(
    () => '',
    (error: { stdout: string }) => error.stdout,
  );
}

describe('openapi.yaml through a client generator (openapi-typescript)', () => {
  it('generates types for every operation, which a strict use typechecks against', async () => {
    const ast = await openapiTS(pathToFileURL(join(REPO, 'openapi.yaml')));
    const types = astToString(ast);
    writeFileSync(join(work, 'api.ts'), types);
    expect(types).toContain('"/v1/objects/{key}"');
    expect(await typecheck(USE)).toBe('');
  }, 60_000);

  it('and the types are strict: an encrypt request without its key does not typecheck', async () => {
    const misuse = `import type { operations } from './api.js';
type Body = NonNullable<operations['encrypt']['requestBody']>['content']['application/json'];
export const request: Body = { plaintext: 'aGVsbG8=' };
`;
    expect(await typecheck(misuse)).toMatch(/keyId|not assignable/);
  }, 60_000);
});
