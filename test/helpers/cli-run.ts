import { spawn } from 'node:child_process';
import { createReadStream, rmSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { KEY_USER } from '@eaas/aws-local';
import { build } from 'esbuild';
import type { TestStack } from './local-stack.js';

/**
 * Runs the `eaas` command line as a process, from its TypeScript source, signing as a principal of
 * the local stack through the standard environment. The source is bundled once per test process
 * (esbuild, the eaas-source condition, packages left to node_modules), into the client package's
 * ignored .esbuild/cli/ (so that the program finds its package.json): a run then starts in about
 * a tenth of a second, where tsx would transpile every module again in each process.
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
const outdir = `${root}packages/client/.esbuild/cli`;
let built: Promise<string> | undefined;

/** The bundled program's path (built on first use in this test process). */
export function cliEntry(): Promise<string> {
  built ??= (async () => {
    const out = `${outdir}/eaas-${process.pid}.mjs`;
    await build({
      entryPoints: [`${root}packages/client/src/cli/bin.ts`],
      bundle: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      conditions: ['eaas-source'],
      outfile: out,
      logLevel: 'warning',
    });
    process.once('exit', () => rmSync(out, { force: true }));
    return out;
  })();
  return built;
}

export interface CliResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** The environment of a run against the stack as `principal`: no profile, no config file of the user's. */
export function cliEnv(t: TestStack, principal = KEY_USER): NodeJS.ProcessEnv {
  const p = t.principal(principal);
  const { AWS_PROFILE: _p, AWS_SESSION_TOKEN: _s, EAAS_CONFIG: _c, ...rest } = process.env;
  return {
    ...rest,
    EAAS_ENDPOINT: t.api,
    XDG_CONFIG_HOME: `${t.dataDir}/no-such-config-home`,
    AWS_ACCESS_KEY_ID: p.accessKeyId,
    AWS_SECRET_ACCESS_KEY: p.secretAccessKey,
    ...(p.sessionToken ? { AWS_SESSION_TOKEN: p.sessionToken } : {}),
    AWS_REGION: t.config.region,
  };
}

/**
 * `eaas args...`; `stdin` is bytes, or `{ file }` streamed from a file; `stdout`, when given, gets
 * the standard output as it comes (then `stdout` in the result is empty).
 */
export function runCli(
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; stdin?: Uint8Array | { file: string }; stdout?: Writable },
): Promise<CliResult> {
  return cliEntry().then((entry) => run(entry, args, options));
}

/** `eaas args...` as a live process, its standard streams piped, for a test to drive (and interrupt). */
export async function spawnCli(args: readonly string[], env: NodeJS.ProcessEnv) {
  return spawn(process.execPath, [await cliEntry(), ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
}

function run(
  entry: string,
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; stdin?: Uint8Array | { file: string }; stdout?: Writable },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry, ...args], {
      env: options.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    if (options.stdout) child.stdout.pipe(options.stdout, { end: false });
    else child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.stdin.on('error', () => {});
    if (options.stdin instanceof Uint8Array) child.stdin.end(options.stdin);
    else if (options.stdin) createReadStream(options.stdin.file).pipe(child.stdin);
    else child.stdin.end();
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') }),
    );
  });
}
