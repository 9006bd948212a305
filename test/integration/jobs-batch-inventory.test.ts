import { randomBytes } from 'node:crypto';
import {
  GetObjectCommand,
  PutBucketInventoryConfigurationCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { CreateJobCommand, DescribeJobCommand } from '@aws-sdk/client-s3-control';
import { GRANTEE, KEY_MANAGER, KEY_USER, SERVICE } from '@eaas/aws-local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localBatchReportsBucket } from '../../local/emulator-options.js';
import { S3JobObjects } from '../../src/aws/s3-jobs.js';
import { s3ControlClientFor } from '../../src/compose/aws-clients.js';
import { JOB_ARGUMENT } from '../../src/core/rewrap-batch.js';
import { MemoryBatchJobs } from '../fakes/batch-jobs.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';
import { unwrapKeyOf, workerFor, writeForeign } from './jobs-fixtures.js';

/**
 * An S3 Inventory report as the manifest of a re-encryption job's S3 Batch Operations job, end to
 * end on the local stack: the local S3 delivers a report of the whole vault (documents, their
 * instruction files, another writer's objects, the job records), the local S3 Control reads it
 * (S3InventoryReport_CSV_20161130) as BatchOperationsRole and invokes the service's rewrapbatch
 * function for every object listed. Every task answers Succeeded: the documents under the job's
 * key re-wrapped, everything else skipped with its reason, nothing PermanentFailure.
 *
 * The eaas job is made by a job service whose S3 Batch Operations is the in-memory fake (never
 * run), so that only the inventory's S3 job invokes the function; the service choosing the
 * inventory itself is not built yet (see docs/rewrap-jobs.md).
 */

let t: TestStack;
let keyA: string;
let keyB: string;
const arn = (name: string) => `arn:aws:iam::${t.config.accountId}:user/${name}`;

async function createKey(administrators: string[], users: string[]): Promise<string> {
  const res = await t
    .client(KEY_MANAGER)
    .raw('POST', '/v1/keys', { description: 'inventory jobs', administrators, users });
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  return (res.body as { key: { arn: string } }).key.arn;
}

async function putViaApi(key: string, keyId: string, context: Record<string, string>) {
  const res = await t
    .client(KEY_USER)
    .rawBytes('PUT', `/v1/objects/${encodeURIComponent(key)}`, randomBytes(2000), {
      keyId,
      context: JSON.stringify(context),
    });
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
}

beforeAll(async () => {
  t = await startTestStack({ env: { EAAS_REWRAP_TICK_SECONDS: '0' } });
  keyA = await createKey([arn(KEY_MANAGER), arn(GRANTEE)], [arn(KEY_USER)]);
  keyB = await createKey([arn(KEY_MANAGER), arn(GRANTEE)], [arn(KEY_USER)]);
});
afterAll(() => t?.stop());

describe('a batch job whose manifest is an S3 Inventory report of the whole vault', () => {
  it('answers Succeeded for every object listed: documents re-wrapped, the rest skipped', async () => {
    const vault = t.config.vaultBucket;
    const full = (key: string) => `${t.config.objectPrefix}${key}`;
    await putViaApi('docs/meta', keyA, { tenant: 'acme' });
    // Too large a context for the metadata: an instruction file beside it.
    await putViaApi('docs/instr', keyA, { tenant: 'acme', a: 'x'.repeat(1000), b: 'y'.repeat(1000) });
    await putViaApi('docs/other-key', 'alias/eaas-default', {});
    const s3 = t.s3(SERVICE);
    await writeForeign(t.kms(KEY_USER), s3, vault, {
      key: full('docs/foreign'),
      keyId: keyA,
      plaintext: randomBytes(100),
      version: 'v3',
      instruction: false,
    });
    await s3.send(
      new PutObjectCommand({ Bucket: vault, Key: full('docs/plain.txt'), Body: 'not encrypted' }),
    );

    // The eaas job (its record under jobs/, which the inventory lists too).
    const records = new S3JobObjects(t.stack.serviceS3, vault);
    const rewrap = workerFor(t, {
      batch: {
        jobs: new MemoryBatchJobs(records, records),
        functionArn: `arn:aws:lambda:${t.config.region}:${t.config.accountId}:function:eaas-local-rewrapbatch`,
        roleArn: `arn:aws:iam::${t.config.accountId}:role/eaas-local-batch-operations`,
        vaultBucket: vault,
        objectPrefix: t.config.objectPrefix,
        report: { bucket: vault, prefix: 'jobs/batch-reports/' },
        reports: records,
        priority: 10,
        threshold: 100_000,
      },
    });
    const started = await rewrap.start(
      { arn: arn(GRANTEE) },
      { sourceKeyId: keyA, destinationKeyId: keyB, prefix: 'docs/', engine: 'batch' },
    );

    // The vault's inventory, delivered into the reports bucket under reports/inventory/, which
    // BatchOperationsRole may read; its policy lets S3 write the report there, as on AWS.
    const reports = localBatchReportsBucket(t.config);
    await s3.send(
      new PutBucketPolicyCommand({
        Bucket: reports,
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Service: 's3.amazonaws.com' },
              Action: 's3:PutObject',
              Resource: `arn:aws:s3:::${reports}/reports/inventory/*`,
              Condition: { ArnLike: { 'aws:SourceArn': `arn:aws:s3:::${vault}` } },
            },
          ],
        }),
      }),
    );
    await s3.send(
      new PutBucketInventoryConfigurationCommand({
        Bucket: vault,
        Id: 'all',
        InventoryConfiguration: {
          Id: 'all',
          IsEnabled: true,
          Destination: {
            S3BucketDestination: {
              Bucket: `arn:aws:s3:::${reports}`,
              Format: 'CSV',
              Prefix: 'reports/inventory',
            },
          },
          IncludedObjectVersions: 'Current',
          Schedule: { Frequency: 'Daily' },
        },
      }),
    );
    const report = t.stack.s3.deliverInventoryReport(vault, 'all');

    const control = s3ControlClientFor(
      { ...t.config, s3ControlEndpoint: t.stack.s3Control.endpoint },
      {
        accessKeyId: t.principal(SERVICE).accessKeyId,
        secretAccessKey: t.principal(SERVICE).secretAccessKey,
      },
    );
    try {
      const { JobId = '' } = await control.send(
        new CreateJobCommand({
          AccountId: t.config.accountId,
          ClientRequestToken: `inventory-${started.id}`,
          Priority: 10,
          RoleArn: `arn:aws:iam::${t.config.accountId}:role/eaas-local-batch-operations`,
          ConfirmationRequired: false,
          Operation: {
            LambdaInvoke: {
              FunctionArn: `arn:aws:lambda:${t.config.region}:${t.config.accountId}:function:eaas-local-rewrapbatch`,
              InvocationSchemaVersion: '2.0',
              UserArguments: { [JOB_ARGUMENT]: started.id },
            },
          },
          Manifest: {
            Spec: { Format: 'S3InventoryReport_CSV_20161130' },
            Location: { ObjectArn: `arn:aws:s3:::${reports}/${report.manifestKey}`, ETag: report.etag },
          },
          Report: {
            Enabled: true,
            Bucket: `arn:aws:s3:::${reports}`,
            Format: 'Report_CSV_20180820',
            Prefix: 'reports',
            ReportScope: 'AllTasks',
          },
        }),
      );
      await t.stack.s3Control.idle();
      const done = await control.send(new DescribeJobCommand({ AccountId: t.config.accountId, JobId }));
      expect(done.Job?.FailureReasons ?? []).toEqual([]);
      expect(done.Job?.Status).toBe('Complete');
      expect(done.Job?.ProgressSummary?.NumberOfTasksFailed).toBe(0);

      // Each listed object's answer, from the completion report.
      const read = async (key: string) =>
        (await (
          await s3.send(new GetObjectCommand({ Bucket: reports, Key: key }))
        ).Body?.transformToString()) ?? '';
      const manifest = JSON.parse(await read(`reports/job-${JobId}/manifest.json`)) as {
        Results: { TaskExecutionStatus: string; Key: string }[];
      };
      expect(manifest.Results.map((r) => r.TaskExecutionStatus)).toEqual(['succeeded']);
      const answers = new Map<string, string>();
      for (const line of (await read(manifest.Results[0]?.Key ?? '')).trim().split('\n')) {
        const [, key = '', , , , , message = ''] = line.split(',');
        answers.set(decodeURIComponent(key), message.replace(/^"|"$/g, ''));
      }
      expect(answers.get(full('docs/meta'))).toBe('rewrapped');
      expect(answers.get(full('docs/instr'))).toBe('rewrapped');
      expect(answers.get(full('docs/foreign'))).toBe('rewrapped');
      expect(answers.get(full('docs/instr.instruction'))).toBe('skipped: not-a-document');
      expect(answers.get(full('docs/other-key'))).toBe('skipped: other-key');
      expect(answers.get(full('docs/plain.txt'))).toBe('skipped: not-encrypted');
      const records = [...answers].filter(([k]) => k.startsWith('jobs/'));
      expect(records.length).toBeGreaterThan(0);
      for (const [key, answer] of records)
        expect(answer, key).toMatch(/^skipped: (not-a-document|outside-object-prefix)$/);
      // The documents under A are under B now.
      const kms = t.kms(KEY_USER);
      for (const key of ['docs/meta', 'docs/instr', 'docs/foreign'])
        expect(await unwrapKeyOf(kms, s3, vault, full(key)), key).toBe(keyB);
    } finally {
      control.destroy();
    }
  });
});
