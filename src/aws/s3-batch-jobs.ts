import {
  CreateJobCommand,
  DescribeJobCommand,
  type S3ControlClient,
  UpdateJobStatusCommand,
} from '@aws-sdk/client-s3-control';
import { DomainError } from '../core/errors.js';
import type { BatchJobDescription, BatchJobRequest, BatchJobStatus, BatchJobs } from '../ports.js';
import { statusOf } from './s3-errors.js';

/**
 * S3 Batch Operations over `@aws-sdk/client-s3-control` (the `BatchJobs` port): CreateJob with a
 * LambdaInvoke operation (invocation schema 2.0, so that the eaas job id travels in
 * UserArguments) over a generated manifest, DescribeJob and UpdateJobStatus. Every call names
 * the service's own account (`AccountId`, S3 Control's endpoint prefix).
 *
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_CreateJob.html
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_S3JobManifestGenerator.html
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_LambdaInvokeOperation.html
 */
export class S3BatchJobs implements BatchJobs {
  constructor(
    private readonly client: S3ControlClient,
    private readonly accountId: string,
    private readonly partition = 'aws',
  ) {}

  private bucketArn(bucket: string): string {
    return `arn:${this.partition}:s3:::${bucket}`;
  }

  async create(request: BatchJobRequest): Promise<{ jobId: string }> {
    const out = await this.send(() =>
      this.client.send(
        new CreateJobCommand({
          AccountId: this.accountId,
          ConfirmationRequired: false,
          ClientRequestToken: request.clientRequestToken,
          Description: request.description,
          Priority: request.priority,
          RoleArn: request.roleArn,
          Operation: {
            LambdaInvoke: {
              FunctionArn: request.functionArn,
              InvocationSchemaVersion: '2.0',
              UserArguments: request.userArguments,
            },
          },
          // The manifest S3 makes itself from a listing of the bucket (current versions), filtered
          // by the job's prefix; its output beside the report, for the operators.
          ManifestGenerator: {
            S3JobManifestGenerator: {
              ExpectedBucketOwner: this.accountId,
              SourceBucket: this.bucketArn(request.manifest.bucket),
              EnableManifestOutput: true,
              ManifestOutputLocation: {
                ExpectedManifestBucketOwner: this.accountId,
                Bucket: this.bucketArn(request.report.bucket),
                ManifestPrefix: `${request.report.prefix}manifests`,
                ManifestFormat: 'S3InventoryReport_CSV_20211130',
                ManifestEncryption: { SSES3: {} },
              },
              ...(request.manifest.prefix
                ? { Filter: { KeyNameConstraint: { MatchAnyPrefix: [request.manifest.prefix] } } }
                : {}),
            },
          },
          Report: {
            Enabled: true,
            Bucket: this.bucketArn(request.report.bucket),
            Prefix: request.report.prefix.replace(/\/$/, ''),
            Format: 'Report_CSV_20180820',
            ReportScope: 'AllTasks',
          },
        }),
      ),
    );
    if (!out.JobId) throw new DomainError('DependencyFailure', 'S3 Batch Operations made no job.');
    return { jobId: out.JobId };
  }

  async describe(jobId: string): Promise<BatchJobDescription | undefined> {
    try {
      const out = await this.send(() =>
        this.client.send(new DescribeJobCommand({ AccountId: this.accountId, JobId: jobId })),
      );
      const job = out.Job;
      if (!job?.Status) return undefined;
      const progress = job.ProgressSummary;
      const reportBucket = job.Report?.Bucket?.split(':::')[1];
      return {
        status: job.Status as BatchJobStatus,
        tasks: {
          ...(progress?.TotalNumberOfTasks !== undefined ? { total: progress.TotalNumberOfTasks } : {}),
          succeeded: progress?.NumberOfTasksSucceeded ?? 0,
          failed: progress?.NumberOfTasksFailed ?? 0,
        },
        ...(reportBucket && job.Report?.Enabled
          ? { report: { bucket: reportBucket, prefix: job.Report.Prefix ?? '' } }
          : {}),
      };
    } catch (error) {
      if (error instanceof DomainError && error.code === 'NotFound') return undefined;
      throw error;
    }
  }

  async cancel(jobId: string, reason: string): Promise<void> {
    await this.send(() =>
      this.client.send(
        new UpdateJobStatusCommand({
          AccountId: this.accountId,
          JobId: jobId,
          RequestedJobStatus: 'Cancelled',
          StatusUpdateReason: reason.slice(0, 256),
        }),
      ),
    );
  }

  /** One call, S3 Control's errors as the service's: throttling and 5xx retried by the caller. */
  private async send<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw fromS3ControlError(error);
    }
  }
}

/**
 * S3 Control's answers as the service's errors: TooManyRequests/SlowDown/503 Throttled, other 5xx
 * or none DependencyFailure, NotFound (DescribeJob of an unknown job) NotFound, and any other
 * refusal of the service's own request an InternalError whose message says nothing of S3.
 */
export function fromS3ControlError(error: unknown): DomainError {
  if (error instanceof DomainError) return error;
  const name = (error as { name?: string })?.name ?? '';
  const status = statusOf(error);
  const options = { cause: error };
  if (name === 'NotFoundException' || name === 'NoSuchJob' || status === 404)
    return new DomainError('NotFound', 'No such batch job.', undefined, options);
  if (name === 'TooManyRequestsException' || name === 'SlowDown' || status === 503 || status === 429)
    return new DomainError('Throttled', 'S3 Batch Operations is throttling requests.', undefined, options);
  if (status === undefined || status >= 500)
    return new DomainError(
      'DependencyFailure',
      'S3 Batch Operations did not answer as expected.',
      undefined,
      options,
    );
  return new DomainError(
    'InternalError',
    'The request failed because of an internal error.',
    undefined,
    options,
  );
}
