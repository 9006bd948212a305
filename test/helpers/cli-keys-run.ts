import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliEntry } from './cli-run.js';
import type { TestStack } from './local-stack.js';

/**
 * Runs the `eaas` command line as a process, from its source bundled once per test process
 * (cli-run.ts), signing as a local principal or with the given environment. Nothing of the
 * developer's own AWS setup is read: HOME is an empty directory.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HOME = mkdtempSync(join(tmpdir(), 'eaas-cli-home-'));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Sign as this local principal (its access key and secret in the environment). */
  as?: string;
  /** Replaces or adds variables; `undefined` removes one. */
  env?: Record<string, string | undefined>;
  stdin?: string | Buffer;
  cwd?: string;
}

/** The environment of a run against `t`: its endpoint and region, and `as`'s credentials. */
export function cliEnv(t: TestStack | undefined, as?: string): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME,
    XDG_CONFIG_HOME: join(HOME, '.config'),
    AWS_CONFIG_FILE: join(HOME, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(HOME, 'no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  if (t) {
    env.EAAS_ENDPOINT = t.api;
    env.AWS_REGION = t.config.region;
    if (as) {
      const p = t.principal(as);
      env.AWS_ACCESS_KEY_ID = p.accessKeyId;
      env.AWS_SECRET_ACCESS_KEY = p.secretAccessKey;
      if (p.sessionToken) env.AWS_SESSION_TOKEN = p.sessionToken;
    }
  }
  return env;
}

export async function runCli(
  t: TestStack | undefined,
  args: readonly string[],
  options: CliOptions = {},
): Promise<CliRun> {
  const entry = await cliEntry();
  const env: Record<string, string> = { ...cliEnv(t, options.as) };
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry, ...args], {
      env,
      cwd: options.cwd ?? ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
    child.stdin.end(options.stdin ?? '');
  });
}

/** A run's standard output as JSON (the run must have succeeded). */
export function jsonOf<T = Record<string, unknown>>(run: CliRun): T {
  if (run.code !== 0) throw new Error(`eaas exited ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}
