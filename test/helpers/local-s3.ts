import { rmSync } from 'node:fs';
import { S3Client } from '@aws-sdk/client-s3';
import { type StackConfig as Config, loadStackConfig as loadConfig } from '../../local/config.js';
import { KEY_USER, LocalIdentities, type LocalPrincipal } from '../../src/local/identity.js';
import { type LocalS3, type LocalS3Options, startLocalS3 } from '../../src/local/s3/index.js';
import { makeDataDir } from './local-kms.js';

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
  config: Config;
  dataDir: string;
  identities: LocalIdentities;
  /** An S3 client signing as the named local principal. */
  client(principal?: string): S3Client;
  principal(name: string): LocalPrincipal;
  /** Stops the server and removes the data dir. */
  stop(): Promise<void>;
}

/** Starts the local S3 alone on a free loopback port over a fresh (or given) data dir. */
export async function startTestS3(
  options: Partial<LocalS3Options> & { dataDir?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<TestS3> {
  const dataDir = options.dataDir ?? makeDataDir();
  const config = loadConfig({ EAAS_DATA_DIR: dataDir, ...options.env });
  const identities = options.identities ?? LocalIdentities.open(dataDir, config.accountId, config.region);
  const s3 = await startLocalS3(config, { port: 0, ...options, identities });
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
