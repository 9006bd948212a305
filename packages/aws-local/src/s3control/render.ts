import type { XmlFields } from '../s3/xml.js';
import { type JobRecord, progressOf } from './job.js';

/**
 * The XML shapes of DescribeJob's JobDescriptor and ListJobs' JobListDescriptor
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_JobDescriptor.html,
 * API_control_JobListDescriptor.html, API_control_JobProgressSummary.html). Lists are wrapped
 * with `member` elements and maps with `entry`/`key`/`value`, as the REST-XML protocol of S3
 * Control writes them.
 */

export const S3CONTROL_NAMESPACE = 'http://awss3control.amazonaws.com/doc/2018-08-20/';

const list = (values: readonly string[] | undefined) => (values ? { member: [...values] } : undefined);

function progress(job: JobRecord, nowMs: number): XmlFields | undefined {
  // AWS shows no ProgressSummary until the manifest has been read.
  if (!job.tasks) return undefined;
  const p = progressOf(job, nowMs);
  return {
    TotalNumberOfTasks: p.TotalNumberOfTasks,
    NumberOfTasksSucceeded: p.NumberOfTasksSucceeded,
    NumberOfTasksFailed: p.NumberOfTasksFailed,
    Timers: { ElapsedTimeInActiveSeconds: p.ElapsedTimeInActiveSeconds },
  };
}

export function jobDescriptor(job: JobRecord, nowMs: number): XmlFields {
  const { spec } = job;
  const lambda = spec.Operation.LambdaInvoke;
  const generator = spec.ManifestGenerator;
  const filter = generator?.Filter;
  return {
    JobId: job.JobId,
    ConfirmationRequired: spec.ConfirmationRequired,
    Description: spec.Description,
    JobArn: job.JobArn,
    Status: job.Status,
    Manifest: spec.Manifest
      ? {
          Spec: { Format: spec.Manifest.Spec.Format, Fields: list(spec.Manifest.Spec.Fields) },
          Location: {
            ObjectArn: spec.Manifest.Location.ObjectArn,
            ObjectVersionId: spec.Manifest.Location.ObjectVersionId,
            ETag: spec.Manifest.Location.ETag,
          },
        }
      : undefined,
    Operation: {
      LambdaInvoke: {
        FunctionArn: lambda.FunctionArn,
        InvocationSchemaVersion: lambda.InvocationSchemaVersion,
        UserArguments: lambda.UserArguments
          ? { entry: Object.entries(lambda.UserArguments).map(([key, value]) => ({ key, value })) }
          : undefined,
      },
    },
    Priority: spec.Priority,
    ProgressSummary: progress(job, nowMs),
    StatusUpdateReason: job.StatusUpdateReason,
    FailureReasons:
      job.FailureReasons.length > 0
        ? {
            member: job.FailureReasons.map((f) => ({
              FailureCode: f.FailureCode,
              FailureReason: f.FailureReason,
            })),
          }
        : undefined,
    Report: {
      Bucket: spec.Report.Bucket,
      Format: spec.Report.Format,
      Enabled: spec.Report.Enabled,
      Prefix: spec.Report.Prefix,
      ReportScope: spec.Report.ReportScope,
    },
    CreationTime: job.CreationTime,
    TerminationDate: job.TerminationDate,
    RoleArn: spec.RoleArn,
    SuspendedDate: job.SuspendedDate,
    SuspendedCause: job.SuspendedCause,
    ManifestGenerator: generator
      ? {
          S3JobManifestGenerator: {
            SourceBucket: generator.SourceBucket,
            ManifestOutputLocation: generator.ManifestOutputLocation
              ? {
                  Bucket: generator.ManifestOutputLocation.Bucket,
                  ManifestPrefix: generator.ManifestOutputLocation.ManifestPrefix,
                  ManifestFormat: generator.ManifestOutputLocation.ManifestFormat,
                }
              : undefined,
            Filter: filter
              ? {
                  CreatedAfter: filter.CreatedAfter,
                  CreatedBefore: filter.CreatedBefore,
                  KeyNameConstraint:
                    filter.MatchAnyPrefix || filter.MatchAnySuffix || filter.MatchAnySubstring
                      ? {
                          MatchAnyPrefix: list(filter.MatchAnyPrefix),
                          MatchAnySuffix: list(filter.MatchAnySuffix),
                          MatchAnySubstring: list(filter.MatchAnySubstring),
                        }
                      : undefined,
                  ObjectSizeGreaterThanBytes: filter.ObjectSizeGreaterThanBytes,
                  ObjectSizeLessThanBytes: filter.ObjectSizeLessThanBytes,
                }
              : undefined,
            EnableManifestOutput: generator.EnableManifestOutput,
          },
        }
      : undefined,
    GeneratedManifestDescriptor: job.GeneratedManifestDescriptor
      ? {
          Format: job.GeneratedManifestDescriptor.Format,
          Location: {
            ObjectArn: job.GeneratedManifestDescriptor.Location.ObjectArn,
            ETag: job.GeneratedManifestDescriptor.Location.ETag,
          },
        }
      : undefined,
  };
}

export function jobListDescriptor(job: JobRecord, nowMs: number): XmlFields {
  return {
    JobId: job.JobId,
    Description: job.spec.Description,
    Operation: 'LambdaInvoke',
    Priority: job.spec.Priority,
    Status: job.Status,
    CreationTime: job.CreationTime,
    TerminationDate: job.TerminationDate,
    ProgressSummary: progress(job, nowMs),
  };
}
