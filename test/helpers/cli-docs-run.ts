import { type ChildProcess, spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { cliEntry } from './cli-run.js';
import type { TestStack } from './local-stack.js';

/**
 * `eaas` as a process, from its source bundled once per test process (cli-run.ts), signing as a
 * local principal of a test stack: its exit code, standard output (bytes) and standard error.
 */

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** The environment of a run: the stack's API and the principal's keys, state and config under `home`. */
export function cliEnv(stack: TestStack, principal: string, home: string): NodeJS.ProcessEnv {
  const p = stack.principal(principal);
  return {
    PATH: process.env.PATH,
    HOME: home,
    XDG_STATE_HOME: `${home}/state`,
    XDG_CONFIG_HOME: `${home}/config`,
    TMPDIR: home,
    EAAS_ENDPOINT: stack.api,
    AWS_REGION: stack.config.region,
    AWS_ACCESS_KEY_ID: p.accessKeyId,
    AWS_SECRET_ACCESS_KEY: p.secretAccessKey,
    AWS_EC2_METADATA_DISABLED: 'true',
    ...(p.sessionToken ? { AWS_SESSION_TOKEN: p.sessionToken } : {}),
  };
}

/** Starts `eaas args...`; standard input from a file, or bytes, or nothing. */
export async function startCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  stdin?: string | Buffer,
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [await cliEntry(), ...args], {
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  if (typeof stdin === 'string') createReadStream(stdin).pipe(child.stdin as NodeJS.WritableStream);
  else child.stdin?.end(stdin ?? Buffer.alloc(0));
  return child;
}

/** What a started run ends with. */
export function finished(child: ChildProcess): Promise<CliRun> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (c: Buffer) => out.push(c));
  child.stderr?.on('data', (c: Buffer) => err.push(c));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') }),
    );
  });
}

export async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  stdin?: string | Buffer,
): Promise<CliRun> {
  return finished(await startCli(args, env, stdin));
}
