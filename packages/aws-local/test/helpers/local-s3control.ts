import { rmSync } from 'node:fs';
import type { S3Client } from '@aws-sdk/client-s3';
import { DescribeJobCommand, type JobDescriptor, S3ControlClient } from '@aws-sdk/client-s3-control';
import { DEFAULT_ACCOUNT_ID, DEFAULT_REGION } from '../../src/defaults.js';
import { KEY_USER, LocalIdentities, type LocalPrincipal, type LocalRole } from '../../src/identity.js';
import { type LocalS3, startLocalS3 } from '../../src/s3/index.js';
import {
  type BatchFunction,
  type LocalS3Control,
  type LocalS3ControlOptions,
  startLocalS3Control,
} from '../../src/s3control/index.js';
import { makeDataDir } from './local-kms.js';
import { s3ClientFor } from './local-s3.js';

/** The role the tests' jobs run as: it may read and write the buckets and invoke the test functions. */
export const BATCH_ROLE: LocalRole = {
  name: 'batch-test-role',
  arn: `arn:aws:iam::${DEFAULT_ACCOUNT_ID}:role/batch-test-role`,
  policies: [
    {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['s3:GetObject', 's3:GetObjectVersion', 's3:PutObject', 's3:ListBucket'],
          Resource: ['arn:aws:s3:::batch-*', 'arn:aws:s3:::batch-*/*'],
        },
        {
          Effect: 'Allow',
          Action: 'lambda:InvokeFunction',
          Resource: `arn:aws:lambda:us-east-1:${DEFAULT_ACCOUNT_ID}:function:batch-*`,
        },
      ],
    },
  ],
};

/** A caller of the job API whose IAM policies decide: it may create and describe jobs, and pass BATCH_ROLE when `pass`. */
function callerRole(name: string, pass: boolean): LocalRole {
  return {
    name,
    arn: `arn:aws:iam::${DEFAULT_ACCOUNT_ID}:role/${name}`,
    policies: [
      {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: ['s3:CreateJob', 's3:DescribeJob'], Resource: '*' },
          ...(pass
            ? [
                {
                  Effect: 'Allow',
                  Action: 'iam:PassRole',
                  Resource: BATCH_ROLE.arn,
                  Condition: { StringEquals: { 'iam:PassedToService': 'batchoperations.s3.amazonaws.com' } },
                },
              ]
            : []),
        ],
      },
    ],
  };
}
export const PASSING_CALLER = callerRole('batch-test-passer', true);
export const NON_PASSING_CALLER = callerRole('batch-test-nopass', false);
const ROLES = [BATCH_ROLE, PASSING_CALLER, NON_PASSING_CALLER];

export const fnArn = (name: string) => `arn:aws:lambda:us-east-1:${DEFAULT_ACCOUNT_ID}:function:${name}`;

/**
 * An S3 Control client for the local emulator: the endpoint, and an endpoint provider that
 * answers it as is (the SDK would otherwise send to `<account>.<host>`), one attempt.
 */
export function controlClientFor(endpoint: string, principal: LocalPrincipal): S3ControlClient {
  return new S3ControlClient({
    region: DEFAULT_REGION,
    endpoint,
    endpointProvider: () => ({ url: new URL(endpoint) }),
    credentials: {
      accessKeyId: principal.accessKeyId,
      secretAccessKey: principal.secretAccessKey,
      ...(principal.sessionToken ? { sessionToken: principal.sessionToken } : {}),
    },
    maxAttempts: 1,
  });
}

export interface TestBatch {
  s3: LocalS3;
  control: LocalS3Control;
  dataDir: string;
  identities: LocalIdentities;
  /** S3 as myKeyUser (acts as the account's root in S3). */
  s3Client: S3Client;
  client(principal?: string): S3ControlClient;
  /** Polls DescribeJob until the job's status is one of `statuses`. */
  waitFor(jobId: string, statuses: readonly string[], timeoutMs?: number): Promise<JobDescriptor>;
  /** Stops the S3 Control only (a restart test starts another over the same data dir). */
  restartControl(options?: Partial<LocalS3ControlOptions>): Promise<void>;
  stop(): Promise<void>;
}

export const BATCH_BUCKETS = ['batch-source', 'batch-reports'];

export async function startTestBatch(
  functions: Record<string, BatchFunction>,
  options: Partial<LocalS3ControlOptions> = {},
): Promise<TestBatch> {
  const dataDir = makeDataDir();
  const identities = LocalIdentities.open(dataDir, DEFAULT_ACCOUNT_ID, DEFAULT_REGION, ROLES);
  const s3 = await startLocalS3({
    dataDir,
    buckets: BATCH_BUCKETS,
    identities,
    roles: [BATCH_ROLE],
    port: 0,
  });
  const start = (more: Partial<LocalS3ControlOptions> = {}) =>
    startLocalS3Control({
      dataDir,
      identities,
      s3Endpoint: s3.endpoint,
      roles: ROLES,
      functions,
      log: () => undefined,
      ...options,
      ...more,
    });
  let control = await start();
  const s3Client = s3ClientFor(s3.endpoint, identities.byName(KEY_USER));
  const clients: S3ControlClient[] = [];
  const t: TestBatch = {
    s3,
    get control() {
      return control;
    },
    dataDir,
    identities,
    s3Client,
    client(name = KEY_USER) {
      const c = controlClientFor(control.endpoint, identities.byName(name));
      clients.push(c);
      return c;
    },
    async waitFor(jobId, statuses, timeoutMs = 15_000) {
      const c = t.client();
      const until = Date.now() + timeoutMs;
      for (;;) {
        const { Job } = await c.send(new DescribeJobCommand({ AccountId: DEFAULT_ACCOUNT_ID, JobId: jobId }));
        if (Job && statuses.includes(Job.Status ?? '')) return Job;
        if (Date.now() > until) throw new Error(`job ${jobId} is ${Job?.Status}, not ${statuses.join('|')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async restartControl(more = {}) {
      await control.close();
      control = await start(more);
    },
    async stop() {
      for (const c of clients) c.destroy();
      s3Client.destroy();
      await control.close();
      await s3.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return t;
}
