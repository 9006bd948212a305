import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** Debian's AWS CLI v2; another `aws` (v1) may shadow it on PATH. */
export const AWS_CLI = '/usr/bin/aws';

/**
 * CLI tests run wherever the CLI is installed, and always in CI (where a missing CLI is a failure,
 * since `.ci/run` installs it); on a laptop without it they are skipped.
 */
export const cliAvailable = existsSync(AWS_CLI) || process.env.CI === 'true';

export interface CliEnv {
  dataDir: string;
  cwd: string;
}

/** Runs a shell script with the local credentials and config files, the way the README tells users to. */
export async function runShell(script: string, env: CliEnv): Promise<{ stdout: string; stderr: string }> {
  return exec('bash', ['-euo', 'pipefail', '-c', script], {
    cwd: env.cwd,
    env: {
      PATH: process.env.PATH,
      HOME: env.cwd,
      AWS_SHARED_CREDENTIALS_FILE: `${env.dataDir}/credentials`,
      AWS_CONFIG_FILE: `${env.dataDir}/config`,
      AWS_PAGER: '',
    },
    timeout: 60_000,
  });
}

/** Runs a shell script that must fail; returns its stderr. */
export async function runShellFailing(script: string, env: CliEnv): Promise<string> {
  try {
    await runShell(script, env);
  } catch (error) {
    return String((error as { stderr?: string }).stderr ?? '');
  }
  throw new Error(`expected the script to fail: ${script}`);
}
