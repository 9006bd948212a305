import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { KEY_USER } from '@eaas/aws-local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * `@eaas/client` as someone outside the repository gets it: packed (its `prepare` builds dist),
 * installed from the tarball into a fresh project, typechecked against its published types, and
 * run against the local stack, with no way to reach its insides.
 */
const exec = promisify(execFile);
const REPO = resolve(import.meta.dirname, '../..');
const PACKAGE = join(REPO, 'packages/client');
const BIN = join(REPO, 'node_modules/.bin');
/** Node 22 (the repository's) first on PATH, for npm, npx and the compiled script alike. */
const env: NodeJS.ProcessEnv = {
  ...process.env,
  PATH: `${BIN}:${process.env.PATH ?? ''}`,
  npm_config_update_notifier: 'false',
};
delete env.NODE_OPTIONS;

const USE = `import { EaasClient, EaasError } from '@eaas/client';

const endpoint = process.env.EAAS_ENDPOINT;
const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
if (!endpoint || !accessKeyId || !secretAccessKey) throw new Error('endpoint and credentials wanted');

const client = new EaasClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId, secretAccessKey } });
const me: { principal: string; accountId: string } = await client.whoami();
const sealed = await client.encrypt({ keyId: 'alias/eaas-default', plaintext: 'from outside', context: { app: 'outside' } });
const bytes: Uint8Array = sealed.ciphertext;
const opened = await client.decrypt({ ciphertext: bytes, context: { app: 'outside' } });
let refused = '';
try {
  await client.decrypt({ ciphertext: bytes, context: { app: 'other' } });
} catch (error) {
  if (error instanceof EaasError) refused = \`\${error.status} \${error.code}\`;
}
console.log(JSON.stringify({ principal: me.principal, plaintext: opened.plaintext.toString('utf8'), refused }));
`;

/** A use that must not typecheck: the typed methods refuse what their types exclude. */
const MISUSE = `import { EaasClient } from '@eaas/client';
const client = new EaasClient({ endpoint: 'http://127.0.0.1:1' });
await client.encrypt({ plaintext: 'no key' });
`;

let stack: TestStack;
let work: string;
let project: string;
let files: string[];

beforeAll(async () => {
  work = realpathSync(mkdtempSync(join(tmpdir(), 'eaas-outside-')));
  project = join(work, 'project');
  mkdirSync(project);
  const [started, packed] = await Promise.all([
    startTestStack(),
    exec('npm', ['pack', '--json', '--pack-destination', work], { cwd: PACKAGE, env, maxBuffer: 1 << 24 }),
  ]);
  stack = started;
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as {
    filename: string;
    files: { path: string }[];
  }[];
  if (!info) throw new Error('npm pack reported nothing');
  files = info.files.map((f) => f.path);
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'outside', version: '1.0.0', private: true, type: 'module' }),
  );
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        skipLibCheck: false,
        types: ['node'],
        outDir: 'out',
      },
      files: ['use.ts'],
    }),
  );
  // The project's own typings for Node, as any TypeScript project on Node has them.
  await exec(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', join(work, info.filename), '@types/node@22'],
    { cwd: project, env, timeout: 120_000 },
  );
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('@eaas/client installed from its tarball outside the repository', () => {
  it('ships its built code, bin, README and package.json, and neither sources nor tests', () => {
    expect(files).toEqual(
      expect.arrayContaining(['package.json', 'README.md', 'bin/eaas.js', 'dist/index.js']),
    );
    expect(files).toContain('dist/index.d.ts');
    expect(
      files.filter(
        (f) => f.startsWith('src/') || f.includes('test') || (f.endsWith('.ts') && !f.endsWith('.d.ts')),
      ),
    ).toEqual([]);
  });

  it('typechecks (strict, NodeNext) against the published types and runs against the stack', async () => {
    writeFileSync(join(project, 'use.ts'), USE);
    await exec(join(BIN, 'tsc'), ['-p', 'tsconfig.json'], { cwd: project, env });
    const user = stack.principal(KEY_USER);
    const { stdout } = await exec('node', ['out/use.js'], {
      cwd: project,
      env: {
        ...env,
        EAAS_ENDPOINT: stack.api,
        AWS_ACCESS_KEY_ID: user.accessKeyId,
        AWS_SECRET_ACCESS_KEY: user.secretAccessKey,
      },
    });
    const out = JSON.parse(stdout) as { principal: string; plaintext: string; refused: string };
    expect(out.plaintext).toBe('from outside');
    expect(out.principal).toContain(KEY_USER);
    expect(out.refused).toMatch(/^4\d\d \S+/);
  });

  it('types are real: a call missing a required field does not typecheck', async () => {
    writeFileSync(join(project, 'use.ts'), MISUSE);
    const failed = await exec(join(BIN, 'tsc'), ['-p', 'tsconfig.json', '--noEmit', '--skipLibCheck'], {
      cwd: project,
      env,
    }).then(
      () => null,
      (error: { stdout: string }) => error.stdout,
    );
    expect(failed).toMatch(/keyId/);
  });

  it('refuses deep imports: only the package root (and its package.json) are exported', async () => {
    for (const deep of [
      '@eaas/client/dist/eaas-client.js',
      '@eaas/client/src/index.ts',
      '@eaas/client/dist/cli/main.js',
    ]) {
      const run = exec('node', ['--input-type=module', '-e', `await import(${JSON.stringify(deep)})`], {
        cwd: project,
        env,
      });
      await expect(run).rejects.toMatchObject({
        stderr: expect.stringContaining('ERR_PACKAGE_PATH_NOT_EXPORTED'),
      });
    }
    const root = await exec(
      'node',
      [
        '--input-type=module',
        '-e',
        "const m = await import('@eaas/client'); console.log(typeof m.EaasClient)",
      ],
      { cwd: project, env },
    );
    expect(root.stdout.trim()).toBe('function');
  });

  it('installs the eaas command: npx eaas --version', async () => {
    const { stdout } = await exec('npx', ['--no-install', 'eaas', '--version'], { cwd: project, env });
    expect(stdout.trim()).toBe('0.1.0');
  });
});
