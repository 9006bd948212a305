import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Config as ServiceConfig } from '../../config.js';
import { listen } from '../http-server.js';
import type { LocalIdentities } from '../identity.js';
import { Notifier, type ObjectCreatedListener } from './notifications.js';
import { createS3Server, type S3ServerOptions } from './server.js';
import { S3Storage } from './storage.js';

export type { ObjectCreatedListener } from './notifications.js';

/**
 * The local S3: an S3-compatible server on loopback for what the service and the upload page
 * use (objects, conditional requests, listings, multipart uploads, presigned URLs, bucket CORS),
 * with its data under `$EAAS_DATA_DIR/s3/` and object-created notifications delivered in-process.
 */

export interface LocalS3 {
  /** `http://host:port`, for `@aws-sdk/client-s3` (with `forcePathStyle`) or `aws --endpoint-url`. */
  readonly endpoint: string;
  /** The configured buckets, created on start. */
  readonly buckets: { readonly vault: string; readonly staging: string };
  readonly storage: S3Storage;
  /** Resolves once every object-created notification sent so far has been handled. */
  notificationsDelivered(): Promise<void>;
  close(): Promise<void>;
}

export interface LocalS3Options {
  /** Overrides the configured port (0 picks a free one, as tests do). */
  port?: number;
  /** Who may sign requests: the local principals the KMS uses too. */
  identities: LocalIdentities;
  now?: () => Date;
  /** Called with an S3 event record after each object is committed (Put, Copy, CompleteMultipartUpload). */
  onObjectCreated?: ObjectCreatedListener | undefined;
  /** Called after each answered request (tests count reads); never with a body. */
  onRequest?: S3ServerOptions['onRequest'];
}

/** What the local S3 reads of the local stack's settings (local/config.ts). */
type Config = Pick<ServiceConfig, 'accountId' | 'region' | 'vaultBucket' | 'stagingBucket'> & {
  readonly dataDir: string;
  readonly host: string;
  readonly s3Port: number;
  readonly sigv4MaxSkewSeconds: number;
};

/** Starts the local S3 on the configured loopback address, creating the configured buckets. */
export async function startLocalS3(config: Config, options: LocalS3Options): Promise<LocalS3> {
  const now = options.now ?? (() => new Date());
  const storage = new S3Storage(join(config.dataDir, 's3'), [config.vaultBucket, config.stagingBucket], now);
  const notifier = new Notifier(config.region, options.onObjectCreated);
  const ownerId = createHash('sha256').update(`eaas-local-s3:${config.accountId}`).digest('hex');
  const server = createS3Server({
    storage,
    notifier,
    region: config.region,
    owner: { ID: ownerId, DisplayName: `eaas-local-${config.accountId}` },
    now,
    identities: options.identities,
    maxSkewSeconds: config.sigv4MaxSkewSeconds,
    onRequest: options.onRequest,
  });
  const listening = await listen(server, config.host, options.port ?? config.s3Port);
  return {
    endpoint: listening.endpoint,
    buckets: { vault: config.vaultBucket, staging: config.stagingBucket },
    storage,
    notificationsDelivered: () => notifier.idle(),
    async close() {
      await listening.close();
      await notifier.idle();
    },
  };
}
