import { rmSync } from 'node:fs';
import { S3Client } from '@aws-sdk/client-s3';
import { DEFAULT_ACCOUNT_ID, DEFAULT_REGION } from '../../src/defaults.js';
import { KEY_USER, LocalIdentities, type LocalPrincipal } from '../../src/identity.js';
import { type LocalS3, type LocalS3Options, startLocalS3 } from '../../src/s3/index.js';
import { makeDataDir, type TestSettings } from './local-kms.js';

/** The buckets the tests' S3 creates. */
export const TEST_BUCKETS = ['eaas-vault', 'eaas-staging'];

/** An S3 client for the local S3: path-style, one attempt (a test sees the first answer), as the principal. */
export function s3ClientFor(endpoint: string, principal: LocalPrincipal, region = 'us-east-1'): S3Client {
  return new S3Client({
    endpoint,
    region,
    forcePathStyle: true,
    credentials: {
      accessKeyId: principal.accessKeyId,
      secretAccessKey: principal.secretAccessKey,
      ...(principal.sessionToken ? { sessionToken: principal.sessionToken } : {}),
    },
    maxAttempts: 1,
  });
}

export interface TestS3 {
  s3: LocalS3;
  config: TestSettings;
  dataDir: string;
  identities: LocalIdentities;
  /** An S3 client signing as the named local principal. */
  client(principal?: string): S3Client;
  principal(name: string): LocalPrincipal;
  /** Stops the server and removes the data dir. */
  stop(): Promise<void>;
}

/** Starts the local S3 alone on a free loopback port over a fresh (or given) data dir. */
export async function startTestS3(options: Partial<LocalS3Options> = {}): Promise<TestS3> {
  const dataDir = options.dataDir ?? makeDataDir();
  const config = {
    accountId: options.accountId ?? DEFAULT_ACCOUNT_ID,
    region: options.region ?? DEFAULT_REGION,
  };
  const identities = options.identities ?? LocalIdentities.open(dataDir, config.accountId, config.region);
  const s3 = await startLocalS3({
    port: 0,
    buckets: TEST_BUCKETS,
    ...options,
    ...config,
    dataDir,
    identities,
  });
  const clients: S3Client[] = [];
  return {
    s3,
    config,
    dataDir,
    identities,
    principal: (name) => identities.byName(name),
    client(name = KEY_USER) {
      const c = s3ClientFor(s3.endpoint, identities.byName(name), config.region);
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.destroy();
      await s3.close();
      if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
