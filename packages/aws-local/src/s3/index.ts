import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { DEFAULT_ACCOUNT_ID, DEFAULT_HOST, DEFAULT_MAX_SKEW_SECONDS, DEFAULT_REGION } from '../defaults.js';
import { listen, withLatency } from '../http-server.js';
import type { LocalIdentities, LocalRole } from '../identity.js';
import type { KmsAuthorizer } from '../kms-use.js';
import { deliverInventoryReport, type InventoryDelivery } from './inventory-report.js';
import { Notifier, type ObjectCreatedListener } from './notifications.js';
import { createS3Server, type S3ServerOptions } from './server.js';
import { S3Storage } from './storage.js';

export type { InventoryDelivery } from './inventory-report.js';
export type { ObjectCreatedListener } from './notifications.js';

/**
 * The local S3: an S3-compatible server on loopback for what the service and the upload page
 * use (objects, conditional requests, listings, multipart uploads, presigned URLs, bucket CORS,
 * bucket policies, default encryption and SSE-KMS), authorizing each request as S3 does (IAM
 * policies of the restricted principals and the bucket policy, see access.ts), with its data
 * under `<dataDir>/s3/` and object-created notifications delivered in-process.
 */

export interface LocalS3 {
  /** `http://host:port`, for `@aws-sdk/client-s3` (with `forcePathStyle`) or `aws --endpoint-url`. */
  readonly endpoint: string;
  /** The buckets created on start, as given in the options. */
  readonly buckets: readonly string[];
  readonly storage: S3Storage;
  /** Resolves once every object-created notification sent so far has been handled. */
  notificationsDelivered(): Promise<void>;
  /**
   * Local-only: delivers a report of the bucket's inventory configuration `id` now (AWS delivers
   * daily or weekly), in AWS's layout, to its destination bucket; see inventory-report.ts. Throws
   * an S3Error (NoSuchBucket, NoSuchConfiguration, AccessDenied by the destination's policy, ...).
   */
  deliverInventoryReport(bucket: string, id: string): InventoryDelivery;
  close(): Promise<void>;
}

export interface LocalS3Options {
  /** Folder of the buckets and uploads (`s3/`); created when missing. */
  dataDir: string;
  /** Buckets to create on start when missing (S3 naming rules; others may exist from before). */
  buckets: readonly string[];
  /** The account that owns the buckets (default `111122223333`). */
  accountId?: string;
  /** The region SigV4 signatures must name, and that event records carry (default `us-east-1`). */
  region?: string;
  /** A loopback address (default `127.0.0.1`). */
  host?: string;
  /** The port (default 0: a free one, given back in `endpoint`). */
  port?: number;
  /** How far a signature's time may be from the server's, in seconds (default 300, as AWS). */
  maxSkewSeconds?: number;
  /** Who may sign requests: the local principals the KMS uses too. */
  identities: LocalIdentities;
  /**
   * Roles an application defines (as given to the local KMS): these principals get exactly what
   * their IAM policies allow, as in AWS. Every other local principal acts as the account's root
   * user (all of S3, subject to bucket policies' Deny); see access.ts.
   */
  roles?: readonly LocalRole[];
  /**
   * Asks KMS whether the caller may use an SSE-KMS key through S3 (kms:GenerateDataKey to write,
   * kms:Decrypt to read, with kms:ViaService = s3.<region>.amazonaws.com), and resolves the key to
   * its ARN. Absent: every use is allowed and a key id is taken as given.
   */
  kmsAuthorize?: KmsAuthorizer | undefined;
  now?: () => Date;
  /** Called with an S3 event record after each object is committed (Put, Copy, CompleteMultipartUpload). */
  onObjectCreated?: ObjectCreatedListener | undefined;
  /** Called after each answered request (tests count reads); never with a body. */
  onRequest?: S3ServerOptions['onRequest'];
  /** Milliseconds each request waits before it is handled, like AWS's network time (default 0: none). */
  latencyMs?: number;
}

/** Starts the local S3 on a loopback address, creating the buckets named in the options. */
export async function startLocalS3(options: LocalS3Options): Promise<LocalS3> {
  const now = options.now ?? (() => new Date());
  const accountId = options.accountId ?? DEFAULT_ACCOUNT_ID;
  const region = options.region ?? DEFAULT_REGION;
  const storage = new S3Storage(join(options.dataDir, 's3'), options.buckets, now);
  const notifier = new Notifier(region, options.onObjectCreated);
  const ownerId = createHash('sha256').update(`eaas-local-s3:${accountId}`).digest('hex');
  const server = createS3Server({
    storage,
    notifier,
    region,
    accountId,
    kmsAuthorize: options.kmsAuthorize,
    restricted: new Set((options.roles ?? []).map((r) => r.name)),
    owner: { ID: ownerId, DisplayName: `eaas-local-${accountId}` },
    now,
    identities: options.identities,
    maxSkewSeconds: options.maxSkewSeconds ?? DEFAULT_MAX_SKEW_SECONDS,
    onRequest: options.onRequest,
  });
  withLatency(server, options.latencyMs ?? 0);
  const listening = await listen(server, options.host ?? DEFAULT_HOST, options.port ?? 0);
  return {
    endpoint: listening.endpoint,
    buckets: [...options.buckets],
    storage,
    notificationsDelivered: () => notifier.idle(),
    deliverInventoryReport: (bucket, id) => deliverInventoryReport(storage, bucket, id, accountId, now()),
    async close() {
      await listening.close();
      await notifier.idle();
    },
  };
}
