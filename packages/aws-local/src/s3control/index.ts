import { S3Client } from '@aws-sdk/client-s3';
import { DEFAULT_ACCOUNT_ID, DEFAULT_HOST, DEFAULT_MAX_SKEW_SECONDS, DEFAULT_REGION } from '../defaults.js';
import { listen } from '../http-server.js';
import type { LocalIdentities, LocalPrincipal, LocalRole } from '../identity.js';
import { JobEngine } from './engine.js';
import type { BatchFunction } from './lambda.js';
import { createControlServer } from './server.js';
import { JobStore } from './store.js';

export type { BatchFunction, BatchInvocationEvent } from './lambda.js';

/**
 * The local S3 Batch Operations: the `s3control` job API (CreateJob, DescribeJob, ListJobs,
 * UpdateJobStatus, UpdateJobPriority) on loopback, running LambdaInvoke jobs against the local
 * S3 with functions given in process, its jobs under `<dataDir>/s3control/jobs/`.
 *
 * Clients must send requests to the endpoint itself, not to `<account>.<host>`, which the SDK
 * and the CLI build from a custom endpoint and which does not resolve on loopback:
 * `@aws-sdk/client-s3-control` with `endpoint` and `endpointProvider: () => ({ url: new URL(endpoint) })`;
 * the AWS CLI with `--endpoint-url <endpoint>` and `HTTP_PROXY=<endpoint>` (the server answers
 * the proxy-form requests itself). See docs/local-stack.md.
 */

export interface LocalS3Control {
  /** `http://host:port`. */
  readonly endpoint: string;
  readonly store: JobStore;
  /** Resolves once no job is running (tests wait for a job's end). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** The number of attempts of one task: the first and its redrives (AWS documents no number). */
export const DEFAULT_TASK_ATTEMPTS = 3;
export const DEFAULT_CONCURRENCY = 16;

export interface LocalS3ControlOptions {
  dataDir: string;
  identities: LocalIdentities;
  /** The local S3 the jobs read manifests from and write reports to, as the job's role. */
  s3Endpoint: string;
  /** Roles a job may run as (the application's); their IAM policies also decide their own requests here. */
  roles: readonly LocalRole[];
  /** The functions jobs may invoke, by function ARN. */
  functions: Readonly<Record<string, BatchFunction>>;
  /** Invocations in flight per job (default 16). */
  concurrency?: number;
  /** Attempts per task before a TemporaryFailure, a throw or a timeout counts failed (default 3). */
  taskAttempts?: number;
  /** The wait before a task's first redrive, doubled for each next one (default 100 ms). */
  retryDelayMs?: number;
  /** An invocation taking longer counts as a timeout (default 900 000 ms, Lambda's longest). */
  invocationTimeoutMs?: number;
  /** The failure threshold applies once this many tasks ran (default 1000, as AWS). */
  failureThresholdMinTasks?: number;
  accountId?: string;
  region?: string;
  host?: string;
  port?: number;
  maxSkewSeconds?: number;
  now?: () => Date;
  log?: (message: string) => void;
}

export async function startLocalS3Control(options: LocalS3ControlOptions): Promise<LocalS3Control> {
  const now = options.now ?? (() => new Date());
  const accountId = options.accountId ?? DEFAULT_ACCOUNT_ID;
  const region = options.region ?? DEFAULT_REGION;
  const store = new JobStore(options.dataDir);
  const rolesByArn = new Map(options.roles.map((r) => [r.arn, r]));
  const clients = new Map<string, S3Client>();
  const engine = new JobEngine({
    store,
    functions: options.functions,
    roleFor: (arn) => {
      const role = rolesByArn.get(arn);
      return role ? options.identities.byName(role.name) : undefined;
    },
    s3For: (principal: LocalPrincipal) => {
      let client = clients.get(principal.name);
      if (!client) {
        client = new S3Client({
          endpoint: options.s3Endpoint,
          region,
          forcePathStyle: true,
          credentials: { accessKeyId: principal.accessKeyId, secretAccessKey: principal.secretAccessKey },
        });
        clients.set(principal.name, client);
      }
      return client;
    },
    concurrency: options.concurrency ?? DEFAULT_CONCURRENCY,
    taskAttempts: options.taskAttempts ?? DEFAULT_TASK_ATTEMPTS,
    invocationTimeoutMs: options.invocationTimeoutMs ?? 900_000,
    retryDelayMs: options.retryDelayMs ?? 100,
    failureThresholdMinTasks: options.failureThresholdMinTasks ?? 1000,
    checkpointMs: 250,
    now,
    log: options.log ?? ((m) => console.error(m)),
  });
  const server = createControlServer({
    store,
    engine,
    identities: options.identities,
    accountId,
    region,
    maxSkewSeconds: options.maxSkewSeconds ?? DEFAULT_MAX_SKEW_SECONDS,
    restricted: new Set(options.roles.map((r) => r.name)),
    knownRole: (arn) => rolesByArn.has(arn),
    now,
  });
  const listening = await listen(server, options.host ?? DEFAULT_HOST, options.port ?? 0);
  engine.resumeAll();
  return {
    endpoint: listening.endpoint,
    store,
    idle: () => engine.idle(),
    async close() {
      await listening.close();
      await engine.close();
      for (const c of clients.values()) c.destroy();
    },
  };
}
