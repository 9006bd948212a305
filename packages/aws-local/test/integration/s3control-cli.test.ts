import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateJobCommand } from '@aws-sdk/client-s3-control';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ACCOUNT_ID } from '../../src/defaults.js';
import { KEY_USER } from '../../src/identity.js';
import type { BatchInvocationEvent } from '../../src/s3control/index.js';
import { AWS_CLI, type CliEnv, cliAvailable, runShell, runShellFailing } from '../helpers/aws-cli.js';
import { BATCH_ROLE, fnArn, startTestBatch, type TestBatch } from '../helpers/local-s3control.js';

let t: TestBatch;
let env: CliEnv;

beforeAll(async () => {
  t = await startTestBatch({
    [fnArn('batch-cli')]: async (e: BatchInvocationEvent) => ({
      invocationSchemaVersion: '2.0',
      treatMissingKeysAs: 'PermanentFailure',
      invocationId: e.invocationId,
      results: [
        {
          taskId: e.tasks[0]?.taskId,
          resultCode: e.tasks[0]?.s3Key.includes('bad') ? 'PermanentFailure' : 'Succeeded',
          resultString: 'x',
        },
      ],
    }),
  });
  env = { dataDir: t.dataDir, cwd: mkdtempSync(join(tmpdir(), 'eaas-cli-')) };
});
afterAll(async () => {
  await t?.stop();
  if (env) rmSync(env.cwd, { recursive: true, force: true });
});

/**
 * The CLI sends S3 Control requests to `<account>.<endpoint host>`, which does not resolve on
 * loopback; with the emulator as its HTTP proxy the request reaches it in proxy form, unchanged
 * and signed for that host.
 */
const aws = () =>
  `HTTP_PROXY=${t.control.endpoint} ${AWS_CLI} --profile ${KEY_USER} --endpoint-url ${t.control.endpoint} s3control`;

describe.runIf(cliAvailable)('aws s3control against the local S3 Batch Operations', () => {
  it('describe-job shows a finished job with its progress summary, as AWS does', async () => {
    for (const k of ['cli/a', 'cli/b', 'cli/bad']) {
      await t.s3Client.send(new PutObjectCommand({ Bucket: 'batch-source', Key: k, Body: k }));
    }
    const { JobId = '' } = await t.client().send(
      new CreateJobCommand({
        AccountId: DEFAULT_ACCOUNT_ID,
        ClientRequestToken: 'cli-token',
        Priority: 5,
        RoleArn: BATCH_ROLE.arn,
        ConfirmationRequired: false,
        Description: 'from the CLI test',
        Operation: { LambdaInvoke: { FunctionArn: fnArn('batch-cli'), InvocationSchemaVersion: '2.0' } },
        ManifestGenerator: {
          S3JobManifestGenerator: {
            SourceBucket: 'arn:aws:s3:::batch-source',
            EnableManifestOutput: false,
            Filter: { KeyNameConstraint: { MatchAnyPrefix: ['cli/'] } },
          },
        },
        Report: { Enabled: false },
      }),
    );
    await t.waitFor(JobId, ['Complete']);
    const out = await runShell(
      `${aws()} describe-job --account-id ${DEFAULT_ACCOUNT_ID} --job-id ${JobId}`,
      env,
    );
    const job = (JSON.parse(out.stdout) as { Job: Record<string, unknown> }).Job;
    expect(job).toMatchObject({
      JobId,
      Status: 'Complete',
      Priority: 5,
      Description: 'from the CLI test',
      RoleArn: BATCH_ROLE.arn,
      JobArn: `arn:aws:s3:us-east-1:${DEFAULT_ACCOUNT_ID}:job/${JobId}`,
      ProgressSummary: {
        TotalNumberOfTasks: 3,
        NumberOfTasksSucceeded: 2,
        NumberOfTasksFailed: 1,
        Timers: { ElapsedTimeInActiveSeconds: expect.any(Number) },
      },
      // CLI 2.9's model predates InvocationSchemaVersion, so it does not show it.
      Operation: { LambdaInvoke: { FunctionArn: fnArn('batch-cli') } },
    });
    expect(typeof job.CreationTime).toBe('string');
    expect(typeof job.TerminationDate).toBe('string');

    const listed = await runShell(
      `${aws()} list-jobs --account-id ${DEFAULT_ACCOUNT_ID} --job-statuses Complete --query 'Jobs[].JobId'`,
      env,
    );
    expect(JSON.parse(listed.stdout)).toContain(JobId);
  });

  it('an unknown job is NoSuchJob', async () => {
    const stderr = await runShellFailing(
      `${aws()} describe-job --account-id ${DEFAULT_ACCOUNT_ID} --job-id 00000000-0000-4000-8000-000000000000`,
      env,
    );
    expect(stderr).toContain('(NoSuchJob)');
  });
});
