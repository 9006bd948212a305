import { rmSync } from 'node:fs';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateJobCommand, type CreateJobCommandInput } from '@aws-sdk/client-s3-control';
import type { BatchInvocationEvent, LocalRole } from '@eaas/aws-local';
import { KEY_USER } from '@eaas/aws-local';
import { controlClientFor } from '@eaas/aws-local/testing/local-s3control';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStackConfig } from '../../local/config.js';
import { localValues } from '../../local/emulator-options.js';
import { readTemplateRoles } from '../../local/template-roles.js';
import { makeDataDir } from '../helpers/local-kms.js';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

/**
 * The local stack's S3 Batch Operations (local/stack.ts): on its own port, jobs run as their role
 * against the stack's S3, which enforces the role's policies, and invoke functions registered in
 * process.
 */

const dataDir = makeDataDir();
const config = loadStackConfig({ EAAS_DATA_DIR: dataDir });
const account = config.accountId;
const fn = `arn:aws:lambda:${config.region}:${account}:function:eaas-local-batch-test`;

/** A job role for the test: it reads the vault and invokes the function; `canReport` lets it write reports. */
function jobRole(name: string, canReport: boolean): LocalRole {
  return {
    name,
    arn: `arn:aws:iam::${account}:role/${name}`,
    policies: [
      {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: ['s3:GetObject', 's3:ListBucket'],
            Resource: [`arn:aws:s3:::${config.vaultBucket}`, `arn:aws:s3:::${config.vaultBucket}/*`],
          },
          ...(canReport
            ? [
                {
                  Effect: 'Allow',
                  Action: 's3:PutObject',
                  Resource: `arn:aws:s3:::${config.vaultBucket}/batch-reports/*`,
                },
              ]
            : []),
          { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: fn },
        ],
      },
    ],
  };
}

const reporting = jobRole('eaas-local-batch-test', true);
const silent = jobRole('eaas-local-batch-noreport', false);
const seen: string[] = [];
let t: TestStack;

beforeAll(async () => {
  t = await startTestStack({
    dataDir,
    roles: {
      ...readTemplateRoles(localValues(config)),
      batchTest: reporting,
      batchNoReport: silent,
    },
    batchFunctions: {
      [fn]: async (e: BatchInvocationEvent) => {
        seen.push(decodeURIComponent(e.tasks[0]?.s3Key ?? ''));
        return {
          invocationSchemaVersion: '2.0',
          treatMissingKeysAs: 'PermanentFailure',
          invocationId: e.invocationId,
          results: [{ taskId: e.tasks[0]?.taskId, resultCode: 'Succeeded', resultString: 'ok' }],
        };
      },
    },
  });
});
afterAll(async () => {
  await t?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function job(roleArn: string, token: string): CreateJobCommandInput {
  return {
    AccountId: account,
    ClientRequestToken: token,
    Priority: 1,
    RoleArn: roleArn,
    ConfirmationRequired: false,
    Operation: { LambdaInvoke: { FunctionArn: fn, InvocationSchemaVersion: '2.0' } },
    ManifestGenerator: {
      S3JobManifestGenerator: {
        SourceBucket: `arn:aws:s3:::${config.vaultBucket}`,
        EnableManifestOutput: false,
        Filter: { KeyNameConstraint: { MatchAnyPrefix: ['batch-src/'] } },
      },
    },
    Report: {
      Enabled: true,
      Bucket: `arn:aws:s3:::${config.vaultBucket}`,
      Format: 'Report_CSV_20180820',
      Prefix: 'batch-reports',
      ReportScope: 'AllTasks',
    },
  };
}

async function finished(jobId: string) {
  await t.stack.s3Control.idle();
  return t.stack.s3Control.store.get(jobId);
}

describe('S3 Batch Operations in the local stack', () => {
  it('runs a job as its role over the vault and writes the report where the role may write', async () => {
    const s3 = t.s3(KEY_USER);
    for (const k of ['batch-src/1', 'batch-src/2'])
      await s3.send(new PutObjectCommand({ Bucket: config.vaultBucket, Key: k, Body: 'x' }));
    const control = controlClientFor(t.stack.s3Control.endpoint, t.principal(KEY_USER));
    const { JobId = '' } = await control.send(new CreateJobCommand(job(reporting.arn, 'stack-1')));
    const done = await finished(JobId);
    expect(done?.Status).toBe('Complete');
    expect(seen.sort()).toEqual(['batch-src/1', 'batch-src/2']);
    const manifest = await s3.send(
      new GetObjectCommand({ Bucket: config.vaultBucket, Key: `batch-reports/job-${JobId}/manifest.json` }),
    );
    expect(JSON.parse((await manifest.Body?.transformToString()) ?? '{}')).toMatchObject({
      Format: 'Report_CSV_20180820',
    });
    control.destroy();
  });

  it('a role whose policies do not let it write the report: the local S3 refuses, the job fails saying so', async () => {
    const control = controlClientFor(t.stack.s3Control.endpoint, t.principal(KEY_USER));
    const { JobId = '' } = await control.send(new CreateJobCommand(job(silent.arn, 'stack-2')));
    const done = await finished(JobId);
    expect(done?.Status).toBe('Failed');
    expect(done?.FailureReasons[0]?.FailureCode).toBe('ReportWriteFailure');
    expect(done?.FailureReasons[0]?.FailureReason).toContain('AccessDenied');
    control.destroy();
  });

  it('a role that is not one of the stack: CreateJob answers 400 InvalidRequest', async () => {
    const control = controlClientFor(t.stack.s3Control.endpoint, t.principal(KEY_USER));
    await expect(
      control.send(new CreateJobCommand(job(`arn:aws:iam::${account}:role/nobody`, 'stack-3'))),
    ).rejects.toMatchObject({ name: 'InvalidRequest', $metadata: { httpStatusCode: 400 } });
    control.destroy();
  });
});
