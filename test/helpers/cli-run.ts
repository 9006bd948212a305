import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { KEY_USER } from '@eaas/aws-local';
import type { TestStack } from './local-stack.js';

/**
 * Runs the `eaas` command line as a process, from its TypeScript source (tsx, the eaas-source
 * condition), signing as a principal of the local stack through the standard environment.
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
const tsx = `${root}node_modules/.bin/tsx`;
const entry = `${root}packages/client/src/cli/bin.ts`;

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
  return new Promise((resolve, reject) => {
    const child = spawn(tsx, ['--conditions=eaas-source', entry, ...args], {
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
