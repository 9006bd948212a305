import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { UsageError } from './exit-codes.js';

/**
 * Where the command line finds the API and the caller's credentials. The API's URL comes from
 * `--endpoint`, else `EAAS_ENDPOINT`, else the config file; the region likewise (`--region`,
 * `AWS_REGION`/`AWS_DEFAULT_REGION`, the file, `us-east-1`). Credentials are the standard AWS
 * chain (environment, `--profile`/`AWS_PROFILE` in ~/.aws, SSO, process, container, instance).
 */

/** The config file: `--config`, else `EAAS_CONFIG`, else `$XDG_CONFIG_HOME/eaas/config.json` (~/.config). */
export function configPath(env: NodeJS.ProcessEnv, flag?: string): string {
  if (flag) return flag;
  if (env.EAAS_CONFIG) return env.EAAS_CONFIG;
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'eaas', 'config.json');
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** What the config file may hold: the defaults, and named profiles that override them. */
export interface ConfigFile {
  endpoint?: string;
  region?: string;
  profile?: string;
  profiles?: Record<string, { endpoint?: string; region?: string }>;
}

export interface GlobalOptions {
  endpoint?: string;
  region?: string;
  profile?: string;
  config?: string;
}

export interface Settings {
  endpoint: string;
  region: string;
  profile: string | undefined;
  credentials: AwsCredentialIdentityProvider;
}

async function readConfig(path: string, explicit: boolean): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (!explicit && (error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new UsageError(`cannot read the config file ${path}: ${(error as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new Error('not an object');
    return parsed as ConfigFile;
  } catch (error) {
    throw new UsageError(`the config file ${path} is not a JSON object (${(error as Error).message})`);
  }
}

/** The settings of one run, from the flags, the environment and the config file, in that order. */
export async function resolveSettings(options: GlobalOptions, env: NodeJS.ProcessEnv): Promise<Settings> {
  const explicit = Boolean(options.config || env.EAAS_CONFIG);
  const file = await readConfig(configPath(env, options.config), explicit);
  const profile = options.profile ?? env.AWS_PROFILE ?? file.profile;
  const named = profile ? file.profiles?.[profile] : undefined;
  const endpoint = options.endpoint ?? env.EAAS_ENDPOINT ?? named?.endpoint ?? file.endpoint;
  if (!endpoint)
    throw new UsageError(
      `no API URL: give --endpoint URL, set EAAS_ENDPOINT, or write {"endpoint": "URL"} to ${configPath(env, options.config)}`,
    );
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new UsageError(`the API URL ${JSON.stringify(endpoint)} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new UsageError(`the API URL must be http(s): ${endpoint}`);
  // Request and answer bodies carry plaintext and data keys: plain HTTP only to this machine.
  if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname))
    throw new UsageError(
      `the API URL must be https unless it is on this machine (127.0.0.1, ::1, localhost): ${endpoint}`,
    );
  const region =
    options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? named?.region ?? file.region ?? 'us-east-1';
  // Loaded only when a command talks to the API, so `--help` and completion start fast.
  const { fromNodeProviderChain } = await import('@aws-sdk/credential-providers');
  return {
    endpoint,
    region,
    profile,
    credentials: fromNodeProviderChain(profile ? { profile } : {}),
  };
}
