import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KMSClient } from '@aws-sdk/client-kms';
import { DEFAULT_ACCOUNT_ID, DEFAULT_REGION } from '../../src/defaults.js';
import { KEY_MANAGER, KEY_USER, type LocalPrincipal, SERVICE } from '../../src/identity.js';
import { type LocalKms, type LocalKmsOptions, type SeedKey, startLocalKms } from '../../src/kms/index.js';
import { consoleKeyPolicy } from './keys.js';

/** The account and region the emulator under test runs in. */
export interface TestSettings {
  accountId: string;
  region: string;
}

export interface TestKms {
  kms: LocalKms;
  config: TestSettings;
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

/** The alias of the key the tests' KMS seeds: administered by myKeyManager, used by myKeyUser. */
export const SEED_ALIAS = 'alias/eaas-default';

/** A seed key under the console's default policy for administrators and users. */
export function testSeedKey(accountId: string): SeedKey {
  return {
    alias: SEED_ALIAS,
    description: 'Seed key of the tests',
    policy: (identities) =>
      consoleKeyPolicy({
        accountId,
        administrators: [identities.byName(KEY_MANAGER).arn],
        users: [identities.byName(KEY_USER).arn, identities.byName(SERVICE).arn],
      }),
  };
}

/**
 * Starts a local KMS on a free loopback port over a fresh (or given) data dir, with the tests'
 * seed key unless the options name another.
 */
export async function startTestKms(options: Partial<LocalKmsOptions> = {}): Promise<TestKms> {
  const dataDir = options.dataDir ?? makeDataDir();
  const config = {
    accountId: options.accountId ?? DEFAULT_ACCOUNT_ID,
    region: options.region ?? DEFAULT_REGION,
  };
  const kms = await startLocalKms({
    port: 0,
    seedKey: testSeedKey(config.accountId),
    ...options,
    ...config,
    dataDir,
  });
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
