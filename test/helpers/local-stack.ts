import { rmSync } from 'node:fs';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { S3Client } from '@aws-sdk/client-s3';
import { KEY_USER, type LocalPrincipal } from '@eaas/aws-local';
import { s3ClientFor } from '@eaas/aws-local/testing/local-s3';
import { EaasClient } from '@eaas/client';
import { type StackConfig as Config, loadStackConfig as loadConfig } from '../../local/config.js';
import { type LocalStack, type StackOptions, startStack } from '../../local/stack.js';
import { roleNameOf } from '../../local/template-roles.js';
import { s3ClientFor as serviceS3ClientFor } from '../../src/compose/aws-clients.js';
import { clientFor, makeDataDir } from './local-kms.js';

export interface TestStack {
  stack: LocalStack;
  config: Config;
  dataDir: string;
  api: string;
  principal(name: string): LocalPrincipal;
  /** The typed API client signing as the named principal. */
  client(name?: string): EaasClient;
  /** A KMS client straight to the local KMS, signing as the named principal. */
  kms(name?: string): KMSClient;
  /** An S3 client straight to the local S3 (path-style), signing as the named principal. */
  s3(name?: string): S3Client;
  /**
   * The service's own S3 client (src/compose/aws-clients.ts, the bucket owner condition included)
   * signing as a function's role, for tests that play a function: `roleS3('seal')` may read
   * uploads, which the staging bucket's policy refuses to every other principal.
   */
  roleS3(fn: string): S3Client;
  stop(): Promise<void>;
}

/** The whole local stack on free loopback ports over a fresh data dir; no stdout logging unless asked. */
export async function startTestStack(
  options: StackOptions & { dataDir?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<TestStack> {
  const dataDir = options.dataDir ?? makeDataDir();
  const config = loadConfig({ EAAS_DATA_DIR: dataDir, ...options.env });
  const stack = await startStack(config, {
    kmsPort: 0,
    apiPort: 0,
    s3Port: 0,
    logsPort: 0,
    s3ControlPort: 0,
    userPoolPort: 0,
    identityPoolPort: 0,
    logger: null,
    ...options,
  });
  const kmsClients: KMSClient[] = [];
  const s3Clients: S3Client[] = [];
  const principal = (name: string) => stack.kms.identities.byName(name);
  return {
    stack,
    config,
    dataDir,
    api: stack.gateway.endpoint,
    principal,
    client(name = KEY_USER) {
      const p = principal(name);
      return new EaasClient({
        endpoint: stack.gateway.endpoint,
        region: config.region,
        credentials: {
          accessKeyId: p.accessKeyId,
          secretAccessKey: p.secretAccessKey,
          ...(p.sessionToken ? { sessionToken: p.sessionToken } : {}),
        },
      });
    },
    kms(name = KEY_USER) {
      const c = clientFor(stack.kms.endpoint, principal(name), config.region);
      kmsClients.push(c);
      return c;
    },
    s3(name = KEY_USER) {
      const c = s3ClientFor(stack.s3.endpoint, principal(name), config.region);
      s3Clients.push(c);
      return c;
    },
    roleS3(fn: string) {
      const p = principal(roleNameOf('local', fn));
      const c = serviceS3ClientFor(
        { ...config, s3Endpoint: stack.s3.endpoint },
        { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey },
      );
      s3Clients.push(c);
      return c;
    },
    async stop() {
      for (const c of kmsClients) c.destroy();
      for (const c of s3Clients) c.destroy();
      await stack.close();
      if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
