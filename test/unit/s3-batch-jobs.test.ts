import {
  CreateJobCommand,
  type DescribeJobCommand,
  UpdateJobStatusCommand,
} from '@aws-sdk/client-s3-control';
import { describe, expect, it } from 'vitest';
import { S3BatchJobs } from '../../src/aws/s3-batch-jobs.js';

/** The S3 Batch Operations adapter: the requests it sends (as the SDK would), and S3's answers read back. */

function client(answer: (command: unknown) => unknown) {
  const sent: unknown[] = [];
  return {
    sent,
    client: {
      send: async (command: unknown) => {
        sent.push(command);
        return answer(command);
      },
    } as never,
  };
}

const request = {
  clientRequestToken: 'job-1',
  description: 'eaas re-encryption job job-1',
  priority: 10,
  roleArn: 'arn:aws:iam::111122223333:role/eaas-dev-batch-operations',
  functionArn: 'arn:aws:lambda:us-east-1:111122223333:function:eaas-dev-rewrapbatch',
  userArguments: { eaasJobId: 'job-1' },
  manifest: { bucket: 'eaas-vault', prefix: 'tenant/hr/' },
  report: { bucket: 'eaas-reports', prefix: 'reports/' },
};

describe('S3BatchJobs', () => {
  it('creates a LambdaInvoke job (schema 2.0) over a generated manifest, with a report and the job id as token', async () => {
    const c = client(() => ({ JobId: 's3-42' }));
    expect(await new S3BatchJobs(c.client, '111122223333').create(request)).toEqual({ jobId: 's3-42' });
    const command = c.sent[0] as CreateJobCommand;
    expect(command).toBeInstanceOf(CreateJobCommand);
    expect(command.input).toEqual({
      AccountId: '111122223333',
      ConfirmationRequired: false,
      ClientRequestToken: 'job-1',
      Description: 'eaas re-encryption job job-1',
      Priority: 10,
      RoleArn: request.roleArn,
      Operation: {
        LambdaInvoke: {
          FunctionArn: request.functionArn,
          InvocationSchemaVersion: '2.0',
          UserArguments: { eaasJobId: 'job-1' },
        },
      },
      ManifestGenerator: {
        S3JobManifestGenerator: {
          ExpectedBucketOwner: '111122223333',
          SourceBucket: 'arn:aws:s3:::eaas-vault',
          EnableManifestOutput: true,
          ManifestOutputLocation: {
            ExpectedManifestBucketOwner: '111122223333',
            Bucket: 'arn:aws:s3:::eaas-reports',
            ManifestPrefix: 'reports/manifests',
            ManifestFormat: 'S3InventoryReport_CSV_20211130',
            ManifestEncryption: { SSES3: {} },
          },
          Filter: { KeyNameConstraint: { MatchAnyPrefix: ['tenant/hr/'] } },
        },
      },
      Report: {
        Enabled: true,
        Bucket: 'arn:aws:s3:::eaas-reports',
        Prefix: 'reports',
        Format: 'Report_CSV_20180820',
        ReportScope: 'AllTasks',
      },
    });
  });

  it('reads DescribeJob: status, progress, report; an unknown job is undefined', async () => {
    const c = client((command) => {
      if ((command as DescribeJobCommand).input.JobId === 'gone')
        throw Object.assign(new Error('no'), {
          name: 'NotFoundException',
          $metadata: { httpStatusCode: 404 },
        });
      return {
        Job: {
          Status: 'Active',
          ProgressSummary: { TotalNumberOfTasks: 10, NumberOfTasksSucceeded: 6, NumberOfTasksFailed: 1 },
          Report: { Enabled: true, Bucket: 'arn:aws:s3:::eaas-reports', Prefix: 'reports' },
        },
      };
    });
    const jobs = new S3BatchJobs(c.client, '111122223333');
    expect(await jobs.describe('s3-42')).toEqual({
      status: 'Active',
      tasks: { total: 10, succeeded: 6, failed: 1 },
      report: { bucket: 'eaas-reports', prefix: 'reports' },
    });
    expect((c.sent[0] as DescribeJobCommand).input).toEqual({ AccountId: '111122223333', JobId: 's3-42' });
    expect(await jobs.describe('gone')).toBeUndefined();
  });

  it('cancels with UpdateJobStatus; throttling and 5xx are the service’s retryable errors', async () => {
    const c = client(() => ({}));
    await new S3BatchJobs(c.client, '111122223333').cancel('s3-42', 'eaas job job-1 cancelled');
    expect(c.sent[0]).toBeInstanceOf(UpdateJobStatusCommand);
    expect((c.sent[0] as UpdateJobStatusCommand).input).toMatchObject({
      JobId: 's3-42',
      RequestedJobStatus: 'Cancelled',
    });
    for (const [error, code] of [
      [{ name: 'TooManyRequestsException', $metadata: { httpStatusCode: 429 } }, 'Throttled'],
      [{ name: 'InternalError', $metadata: { httpStatusCode: 500 } }, 'DependencyFailure'],
      [{ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }, 'InternalError'],
    ] as const) {
      const failing = client(() => {
        throw Object.assign(new Error('x'), error);
      });
      await expect(new S3BatchJobs(failing.client, '111122223333').create(request)).rejects.toMatchObject({
        code,
      });
    }
  });
});
