import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { cruise, type ICruiseOptions, type ICruiseResult } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The layering rules of `.dependency-cruiser.cjs` (run by `npm run lint:deps`), shown to bite on a
 * small tree that breaks each of them once, and to hold on the repository itself.
 */

const CONFIG = resolve('.dependency-cruiser.cjs');

/** `rule: from -> to` for each violation, sorted. */
async function violations(baseDir: string): Promise<string[]> {
  const options: ICruiseOptions = { ...(await extractDepcruiseOptions(CONFIG)), baseDir, outputType: 'json' };
  const { output } = await cruise(['.'], options);
  const result = (typeof output === 'string' ? JSON.parse(output) : output) as ICruiseResult;
  return result.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort();
}

/** A stand-in for an npm package in the fixture's node_modules: a name and an entry. */
function npmPackage(name: string): Record<string, string> {
  return {
    [`node_modules/${name}/package.json`]: JSON.stringify({ name, main: 'index.js' }),
    [`node_modules/${name}/index.js`]: 'module.exports = {};\n',
  };
}

/** A tree in the target layout where each file breaks one rule (or is allowed, where it says so). */
const FIXTURE: Record<string, string> = {
  'package.json': JSON.stringify({
    name: 'layering-fixture',
    type: 'module',
    workspaces: ['packages/*'],
    dependencies: { '@aws-sdk/client-kms': '*', ajv: '*', zod: '*' },
    devDependencies: { vitest: '*' },
  }),
  ...npmPackage('@aws-sdk/client-kms'),
  ...npmPackage('@middy/core'),
  ...npmPackage('ajv'),
  ...npmPackage('vitest'),
  ...npmPackage('zod'),
  // Allowed: core computes on bytes with node:crypto and names only core.
  'src/core/errors.ts': "import { createHash } from 'node:crypto';\nexport const h = createHash;\n",
  // core-is-pure, three times: the SDK, Node I/O, Lambda middleware.
  'src/core/sealed.ts': [
    "import { KMSClient } from '@aws-sdk/client-kms';",
    "import { readFileSync } from 'node:fs';",
    "import middy from '@middy/core';",
    'export const x = [KMSClient, readFileSync, middy];',
  ].join('\n'),
  // core-imports-only-core.
  'src/core/uses-service.ts': "import { keys } from '../services/keys.js';\nexport const y = keys;\n",
  // Allowed: the ports name core types. ports-are-interfaces: they name an HTTP module.
  'src/ports.ts': [
    "import type { h } from './core/errors.js';",
    "import type { routes } from './http/routes.js';",
    'export interface Kms { hash: typeof h; routes: typeof routes }',
  ].join('\n'),
  // services-reach-aws-through-ports and adapters-only-from-composition-root (an adapter in a service).
  'src/services/keys.ts': "import { kms } from '../aws/kms.js';\nexport const keys = kms;\n",
  // services-below-http.
  'src/services/uploads.ts': "import { routes } from '../http/routes.js';\nexport const u = routes;\n",
  'src/http/routes.ts': 'export const routes = [];\n',
  // Allowed: an adapter over the SDK implementing a port. adapters-implement-ports: one from a service.
  'src/aws/kms.ts': [
    "import { KMSClient } from '@aws-sdk/client-kms';",
    "import type { Kms } from '../ports.js';",
    'export const kms: Partial<Kms> & { c: typeof KMSClient } = { c: KMSClient };',
  ].join('\n'),
  'src/aws/s3-jobs.ts': "import type { u } from '../services/uploads.js';\nexport type J = typeof u;\n",
  // Allowed: the composition root builds adapters.
  'src/compose.ts': "import { kms } from './aws/kms.js';\nexport const compose = () => kms;\n",
  // production-never-imports-dev-code (local stack, emulators, tests), adapters-only-from-composition-root,
  // packages-through-their-names (the emulators by a relative path).
  'src/handlers/keys.ts': [
    "import { stack } from '../../local/stack.js';",
    "import { emulator } from '../../packages/aws-local/src/index.js';",
    "import { helper } from '../../test/helpers.js';",
    "import { kms } from '../aws/kms.js';",
    'export const z = [stack, emulator, helper, kms];',
  ].join('\n'),
  // production-never-imports-dev-code: the emulators through their workspace link.
  'src/handlers/linked.ts': "import { emulator } from '@eaas/aws-local';\nexport const l = emulator;\n",
  // production-no-dev-dependencies (a value import; type-only ones are erased and allowed).
  'src/handlers/dev.ts':
    "import { expect } from 'vitest';\nimport type { it } from 'vitest';\nexport const e: [typeof expect, typeof it] = [expect, expect as never];\n",
  // production-validates-with-ajv-only (ajv is allowed).
  'src/config.ts': "import Ajv from 'ajv';\nimport { z } from 'zod';\nexport const v = [Ajv, z];\n",
  // no-circular.
  'src/client/index.ts': "import { put } from './transfer.js';\nexport const client = put;\n",
  'src/client/transfer.ts':
    "import type { client } from './index.js';\nexport const put = (c?: typeof client) => c;\n",
  // Allowed: tests reach the emulators by their name. packages-through-their-names: by a path.
  'test/helpers.ts': [
    "import { emulator } from '@eaas/aws-local';",
    "import { emulator as deep } from '../packages/aws-local/src/index.js';",
    'export const helper = [emulator, deep];',
  ].join('\n'),
  // Allowed: the local stack wires the service to the emulators. local-stack-is-development-only:
  // it imports a test helper.
  'local/stack.ts': [
    "import { compose } from '../src/compose.js';",
    "import { emulator } from '@eaas/aws-local';",
    "import { helper } from '../test/helpers.js';",
    'export const stack = [compose, emulator, helper];',
  ].join('\n'),
  // packages-stand-alone; aws-rules-below-aws-local.
  'packages/aws-local/package.json': JSON.stringify({
    name: '@eaas/aws-local',
    type: 'module',
    exports: './src/index.ts',
  }),
  'packages/aws-local/src/index.ts':
    "import { v } from '../../../src/config.js';\nexport const emulator = v;\n",
  'packages/aws-rules/src/index.ts':
    "import { emulator } from '../../aws-local/src/index.js';\nexport const r = emulator;\n",
  // web-page-imports-no-runtime-code-from-src, web-page-shares-only-the-api-shapes,
  // web-page-no-node-built-ins, web-page-no-dev-code. Allowed: a type from src/http.
  'web/src/main.ts': [
    "import { keys } from '../../src/services/keys.js';",
    "import type { routes } from '../../src/http/routes.js';",
    "import { readFile } from 'node:fs/promises';",
    "import { helper } from '../../test/helpers.js';",
    'export const page: [unknown, typeof routes | undefined, unknown, unknown] = [keys, undefined, readFile, helper];',
  ].join('\n'),
  // not-to-unresolvable.
  'src/http/missing.ts': "import { gone } from './gone.js';\nexport const m = gone;\n",
};

describe('layering rules (.dependency-cruiser.cjs)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'eaas-layering-'));
    for (const [path, text] of Object.entries(FIXTURE)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    // The workspace link npm makes for the emulators' package.
    mkdirSync(join(dir, 'node_modules/@eaas'));
    symlinkSync(join(dir, 'packages/aws-local'), join(dir, 'node_modules/@eaas/aws-local'), 'dir');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a tree that breaks each rule once fails with exactly those rules, and nothing allowed is reported', async () => {
    // Act
    const found = await violations(dir);

    // Assess
    expect(found).toEqual([
      'adapters-implement-ports: src/aws/s3-jobs.ts -> src/services/uploads.ts',
      'adapters-only-from-composition-root: src/handlers/keys.ts -> src/aws/kms.ts',
      'adapters-only-from-composition-root: src/services/keys.ts -> src/aws/kms.ts',
      'aws-rules-below-aws-local: packages/aws-rules/src/index.ts -> packages/aws-local/src/index.ts',
      'core-imports-only-core: src/core/uses-service.ts -> src/services/keys.ts',
      'core-is-pure: src/core/sealed.ts -> fs',
      'core-is-pure: src/core/sealed.ts -> node_modules/@aws-sdk/client-kms/index.js',
      'core-is-pure: src/core/sealed.ts -> node_modules/@middy/core/index.js',
      'local-stack-is-development-only: local/stack.ts -> test/helpers.ts',
      'no-circular: src/client/index.ts -> src/client/transfer.ts',
      'not-to-unresolvable: src/http/missing.ts -> ./gone.js',
      'packages-stand-alone: packages/aws-local/src/index.ts -> src/config.ts',
      'packages-through-their-names: src/handlers/keys.ts -> packages/aws-local/src/index.ts',
      'packages-through-their-names: test/helpers.ts -> packages/aws-local/src/index.ts',
      'ports-are-interfaces: src/ports.ts -> src/http/routes.ts',
      'production-never-imports-dev-code: src/handlers/keys.ts -> local/stack.ts',
      'production-never-imports-dev-code: src/handlers/keys.ts -> packages/aws-local/src/index.ts',
      'production-never-imports-dev-code: src/handlers/keys.ts -> test/helpers.ts',
      'production-never-imports-dev-code: src/handlers/linked.ts -> packages/aws-local/src/index.ts',
      'production-no-dev-dependencies: src/handlers/dev.ts -> node_modules/vitest/index.js',
      'production-validates-with-ajv-only: src/config.ts -> node_modules/zod/index.js',
      'services-below-http: src/services/uploads.ts -> src/http/routes.ts',
      'services-reach-aws-through-ports: src/services/keys.ts -> src/aws/kms.ts',
      'web-page-imports-no-runtime-code-from-src: web/src/main.ts -> src/services/keys.ts',
      'web-page-no-dev-code: web/src/main.ts -> test/helpers.ts',
      'web-page-no-node-built-ins: web/src/main.ts -> fs/promises',
      'web-page-shares-only-the-api-shapes: web/src/main.ts -> src/services/keys.ts',
    ]);
    // And nothing else: node:crypto in core, ports naming core, the SDK in an adapter, the root
    // building adapters, ajv, a type-only dev import, the emulators by name from tests and the
    // local stack, the service from the local stack, a type on the page.
  });

  it('the rules are all exercised by the tree above', async () => {
    // Prepare
    const { ruleSet } = await extractDepcruiseOptions(CONFIG);
    const names = (ruleSet?.forbidden ?? []).map((rule) => rule.name);

    // Act
    const found = new Set((await violations(dir)).map((line) => line.split(':')[0]));

    // Assess
    expect(names.filter((name) => !found.has(name))).toEqual([]);
  });

  // Cruising the whole repository (some 650 modules) takes seconds, more on a busy machine.
  it('the repository breaks no rule', { timeout: 60_000 }, async () => {
    // Act
    const found = await violations(resolve('.'));

    // Assess
    expect(found).toEqual([]);
  });
});
