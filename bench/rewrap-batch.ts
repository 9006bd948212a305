import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CopyObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateJobCommand, S3ControlClient } from '@aws-sdk/client-s3-control';
import {
  KEY_USER,
  LocalIdentities,
  type LocalPrincipal,
  type LocalRole,
  SERVICE,
  startLocalKms,
  startLocalS3,
  startLocalS3Control,
} from '@eaas/aws-local';
import { KmsKeyAdmin } from '../src/aws/kms-admin.js';
import { S3JobObjects } from '../src/aws/s3-jobs.js';
import type { S3BatchEventV2 } from '../src/core/rewrap-batch.js';
import { JOB_ARGUMENT } from '../src/core/rewrap-batch.js';
import { type JobRecord, SCHEDULED_BY } from '../src/core/rewrap-job.js';
import { makeHandler } from '../src/handlers/rewrap-batch.js';
import { AccessControl } from '../src/services/access.js';
import { RewrapService } from '../src/services/rewrap.js';
import { RewrapBatchTasks } from '../src/services/rewrap-batch-task.js';
import { headerUnder } from './rewrap.js';

/**
 * Re-wrap throughput of the two engines of a re-encryption job on the same objects, with a
 * latency injected into the local S3 and KMS (`latencyMs`, the stack's EAAS_LOCAL_LATENCY_MS) as
 * an in-region call has: today's single worker (`RewrapService.run`, 16 calls in flight), then
 * the local S3 Batch Operations invoking the service's rewrapbatch handler (`makeHandler` over
 * `RewrapBatchTasks`, the function's own code) at 1, 4, 16 and 64 invocations in flight. Each
 * row re-wraps every object once, alternating the source and destination keys, so every row
 * works on the same N objects. Everything runs in this one Node process (the emulators too), so
 * the ceiling a row meets is this process's one core; `BENCH_REWRAP_BATCH_OBJECTS` and
 * `BENCH_REWRAP_BATCH_LATENCY_MS` change the defaults (600 objects, 10 ms).
 */

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const VAULT = 'batch-vault';
const PREFIX = 'docs/';
const FUNCTION_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:batch-rewrapbatch`;

/** The job's role, as serverless.yml's BatchOperationsRole: list the vault, invoke the function. */
const JOB_ROLE: LocalRole = {
  name: 'bench-batch-operations',
  arn: `arn:aws:iam::${ACCOUNT}:role/bench-batch-operations`,
  policies: [
    {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${VAULT}` },
        { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: FUNCTION_ARN },
      ],
    },
  ],
};

export interface RewrapBatchRow {
  engine: string;
  concurrency: number;
  objects: number;
  seconds: number;
  objectsPerSecond: number;
  /** Over the single worker's objects/s in the same run. */
  ratio: number;
  rewrapped: number;
  failed: number;
}

export interface RewrapBatchResult {
  objects: number;
  latencyMs: number;
  rows: RewrapBatchRow[];
}

function credentialsOf(p: LocalPrincipal) {
  return {
    accessKeyId: p.accessKeyId,
    secretAccessKey: p.secretAccessKey,
    ...(p.sessionToken ? { sessionToken: p.sessionToken } : {}),
  };
}

export async function benchRewrapBatch(): Promise<RewrapBatchResult> {
  const count = Number(process.env.BENCH_REWRAP_BATCH_OBJECTS ?? 600);
  const latencyMs = Number(process.env.BENCH_REWRAP_BATCH_LATENCY_MS ?? 10);
  const dataDir = mkdtempSync(join(tmpdir(), 'eaas-bench-batch-'));
  const identities = LocalIdentities.open(dataDir, ACCOUNT, REGION, [JOB_ROLE]);
  const kmsServer = await startLocalKms({ dataDir, port: 0, latencyMs });
  const s3Server = await startLocalS3({
    dataDir,
    buckets: [VAULT],
    identities,
    roles: [JOB_ROLE],
    port: 0,
    latencyMs,
  });
  const kms = new KMSClient({
    endpoint: kmsServer.endpoint,
    region: REGION,
    credentials: credentialsOf(identities.byName(SERVICE)),
  });
  const s3 = new S3Client({
    endpoint: s3Server.endpoint,
    region: REGION,
    forcePathStyle: true,
    credentials: credentialsOf(identities.byName(KEY_USER)),
  });
  const rows: RewrapBatchRow[] = [];
  try {
    const keyA = (await kms.send(new CreateKeyCommand({ Description: 'bench A' }))).KeyMetadata?.Arn ?? '';
    const keyB = (await kms.send(new CreateKeyCommand({ Description: 'bench B' }))).KeyMetadata?.Arn ?? '';
    const admin = new KmsKeyAdmin(kms);
    const access = new AccessControl(admin);
    const objects = new S3JobObjects(s3, VAULT);
    const service = new RewrapService(admin, admin, access, objects, objects, {
      pageSize: 100,
      kmsPerSecond: 0,
    });

    // The N documents: one upload, the others server-side copies with headers of their own.
    await s3.send(
      new PutObjectCommand({
        Bucket: VAULT,
        Key: `${PREFIX}0`,
        Body: Buffer.alloc(1024, 1),
        Metadata: await headerUnder(kms, keyA),
      }),
    );
    let next = 1;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < count) {
          const key = `${PREFIX}${next++}`;
          await s3.send(
            new CopyObjectCommand({
              Bucket: VAULT,
              Key: key,
              CopySource: `${VAULT}/${PREFIX}0`,
              MetadataDirective: 'REPLACE',
              Metadata: await headerUnder(kms, keyA),
            }),
          );
        }
      }),
    );

    // Each row moves every object to the other key: A to B, B to A, ...
    let from = keyA;
    let to = keyB;
    const createJob = async (): Promise<JobRecord> => {
      const job = await service.create(
        {
          mode: 'source-key',
          sourceKeyArn: from,
          destinationKeyArn: to,
          prefix: PREFIX,
          dryRun: false,
          concurrency: 16,
        },
        // An operator's campaign, with the service's authority (as bench/rewrap.ts).
        SCHEDULED_BY,
      );
      [from, to] = [to, from];
      return job;
    };

    const single = async (): Promise<RewrapBatchRow> => {
      const job = await createJob();
      const t0 = performance.now();
      const done = await service.run(job.id);
      const seconds = (performance.now() - t0) / 1000;
      return {
        engine: 'single worker (scheduled)',
        concurrency: 16,
        objects: count,
        seconds,
        objectsPerSecond: count / seconds,
        ratio: 1,
        rewrapped: done?.counts.rewrapped ?? 0,
        failed: Object.values(done?.counts.failed ?? {}).reduce((a, b) => a + b, 0),
      };
    };

    const batch = async (concurrency: number, baseline: number): Promise<RewrapBatchRow> => {
      const job = await createJob();
      // The eaas job as the batch engine records it; the per-object function reads only this.
      const record = { job: { ...job, engine: 'batch' as const }, etag: '' };
      let rewrapped = 0;
      const tasks = new RewrapBatchTasks(
        admin,
        access,
        objects,
        { load: async (id) => (id === job.id ? record : undefined) },
        {
          vaultBucket: VAULT,
          objectPrefix: '',
          kmsPerSecond: 0,
          retry: { attempts: 3 },
          onRewrapped: (n) => {
            rewrapped += n;
          },
        },
      );
      const handler = makeHandler({ tasks });
      const control = await startLocalS3Control({
        dataDir,
        identities,
        s3Endpoint: s3Server.endpoint,
        roles: [JOB_ROLE],
        functions: { [FUNCTION_ARN]: (event) => handler(event as unknown as S3BatchEventV2) },
        concurrency,
        accountId: ACCOUNT,
        region: REGION,
        port: 0,
        log: () => undefined,
      });
      const client = new S3ControlClient({
        region: REGION,
        endpoint: control.endpoint,
        endpointProvider: () => ({ url: new URL(control.endpoint) }),
        credentials: credentialsOf(identities.byName(KEY_USER)),
      });
      try {
        const t0 = performance.now();
        const { JobId = '' } = await client.send(
          new CreateJobCommand({
            AccountId: ACCOUNT,
            ClientRequestToken: `bench-${job.id}`,
            Priority: 10,
            RoleArn: JOB_ROLE.arn,
            ConfirmationRequired: false,
            Operation: {
              LambdaInvoke: {
                FunctionArn: FUNCTION_ARN,
                InvocationSchemaVersion: '2.0',
                UserArguments: { [JOB_ARGUMENT]: job.id },
              },
            },
            ManifestGenerator: {
              S3JobManifestGenerator: {
                SourceBucket: `arn:aws:s3:::${VAULT}`,
                EnableManifestOutput: false,
                Filter: { KeyNameConstraint: { MatchAnyPrefix: [PREFIX] } },
              },
            },
            Report: { Enabled: false },
          }),
        );
        await control.idle();
        const seconds = (performance.now() - t0) / 1000;
        const s3job = control.store.get(JobId);
        if (s3job?.Status !== 'Complete') throw new Error(`batch job ${JobId} ended ${s3job?.Status}`);
        const objectsPerSecond = count / seconds;
        return {
          engine: 'S3 Batch Operations (local)',
          concurrency,
          objects: count,
          seconds,
          objectsPerSecond,
          ratio: objectsPerSecond / baseline,
          rewrapped,
          failed: count - rewrapped,
        };
      } finally {
        client.destroy();
        await control.close();
      }
    };

    const baseline = await single();
    rows.push(baseline);
    for (const c of [1, 4, 16, 64]) rows.push(await batch(c, baseline.objectsPerSecond));

    console.log(
      `\nre-encryption job, two engines on the same ${count} objects, ${latencyMs} ms injected into each local S3 and KMS request (one process)`,
    );
    for (const r of rows)
      console.log(
        `  ${r.engine.padEnd(28)} ${String(r.concurrency).padStart(3)} in flight ${r.objectsPerSecond.toFixed(0).padStart(6)} objects/s  x${r.ratio.toFixed(2).padEnd(5)} (${r.seconds.toFixed(2)} s, re-wrapped ${r.rewrapped}, failed ${r.failed})`,
      );
    return { objects: count, latencyMs, rows };
  } finally {
    kms.destroy();
    s3.destroy();
    await s3Server.close();
    await kmsServer.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
