import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KMSClient } from '@aws-sdk/client-kms';
import { type StackConfig as Config, loadStackConfig as loadConfig } from '../../local/config.js';
import { KEY_USER, type LocalPrincipal } from '../../src/local/identity.js';
import { type LocalKms, type StartOptions, startLocalKms } from '../../src/local/kms/index.js';

export interface TestKms {
  kms: LocalKms;
  config: Config;
  dataDir: string;
  /** A KMS client signing as the named local principal. */
  client(principal?: string): KMSClient;
  principal(name: string): LocalPrincipal;
  /** Stops the server and removes the data dir. */
  stop(): Promise<void>;
}

export function makeDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'eaas-test-'));
}

export function clientFor(endpoint: string, principal: LocalPrincipal, region = 'us-east-1'): KMSClient {
  return new KMSClient({
    endpoint,
    region,
    credentials: {
      accessKeyId: principal.accessKeyId,
      secretAccessKey: principal.secretAccessKey,
      ...(principal.sessionToken ? { sessionToken: principal.sessionToken } : {}),
    },
    maxAttempts: 1,
  });
}

/** Starts a local KMS on a free loopback port over a fresh (or given) data dir. */
export async function startTestKms(
  options: StartOptions & { dataDir?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<TestKms> {
  const dataDir = options.dataDir ?? makeDataDir();
  const config = loadConfig({ EAAS_DATA_DIR: dataDir, ...options.env });
  const kms = await startLocalKms(config, { port: 0, ...options });
  const clients: KMSClient[] = [];
  return {
    kms,
    config,
    dataDir,
    principal: (name) => kms.identities.byName(name),
    client(name = KEY_USER) {
      const c = clientFor(kms.endpoint, kms.identities.byName(name), config.region);
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.destroy();
      await kms.close();
      if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
