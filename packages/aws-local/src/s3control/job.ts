/**
 * A Batch Operations job as the local S3 Control keeps it (one JSON file per job), with the
 * fields of AWS's JobDescriptor
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_JobDescriptor.html) and the
 * run's own state (each task's outcome) that DescribeJob never shows.
 */

/**
 * The statuses of https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-job-status.html
 * ("Job statuses"); Pausing/Paused are never entered here (no job pre-empts another).
 */
export const JOB_STATUSES = [
  'Active',
  'Cancelled',
  'Cancelling',
  'Complete',
  'Completing',
  'Failed',
  'Failing',
  'New',
  'Paused',
  'Pausing',
  'Preparing',
  'Ready',
  'Suspended',
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const TERMINAL: ReadonlySet<JobStatus> = new Set(['Complete', 'Cancelled', 'Failed']);

export interface LambdaInvoke {
  FunctionArn: string;
  InvocationSchemaVersion: string;
  UserArguments?: Record<string, string> | undefined;
}

export interface ManifestSpec {
  Format: string;
  Fields: string[];
}

export interface ManifestLocation {
  ObjectArn: string;
  ETag: string;
  ObjectVersionId?: string | undefined;
}

export interface ManifestFilter {
  CreatedAfter?: string | undefined;
  CreatedBefore?: string | undefined;
  MatchAnyPrefix?: string[] | undefined;
  MatchAnySuffix?: string[] | undefined;
  MatchAnySubstring?: string[] | undefined;
  ObjectSizeGreaterThanBytes?: number | undefined;
  ObjectSizeLessThanBytes?: number | undefined;
}

export interface ManifestGenerator {
  SourceBucket: string;
  EnableManifestOutput: boolean;
  ManifestOutputLocation?:
    | { Bucket: string; ManifestPrefix?: string | undefined; ManifestFormat: string }
    | undefined;
  Filter?: ManifestFilter | undefined;
}

export interface JobReport {
  Enabled: boolean;
  Bucket?: string | undefined;
  Format?: string | undefined;
  Prefix?: string | undefined;
  ReportScope?: string | undefined;
}

/** What CreateJob asked for, as given. */
export interface JobSpec {
  Operation: { LambdaInvoke: LambdaInvoke };
  Manifest?: { Spec: ManifestSpec; Location: ManifestLocation } | undefined;
  ManifestGenerator?: ManifestGenerator | undefined;
  Report: JobReport;
  Priority: number;
  RoleArn: string;
  ClientRequestToken: string;
  ConfirmationRequired: boolean;
  Description?: string | undefined;
}

/** One object of the manifest and what became of it. */
export interface Task {
  bucket: string;
  key: string;
  versionId?: string | undefined;
  /** Undefined until the task ended; a task that was running when the process died runs again. */
  outcome?: TaskOutcome | undefined;
}

export interface TaskOutcome {
  status: 'succeeded' | 'failed';
  /** The result code for a failure (PermanentFailure, TemporaryFailure after the last retry...). */
  errorCode?: string | undefined;
  resultMessage: string;
}

export interface JobRecord {
  JobId: string;
  JobArn: string;
  /** Who created it: ListJobs and DescribeJob answer only in that account. */
  AccountId: string;
  spec: JobSpec;
  Status: JobStatus;
  CreationTime: string;
  TerminationDate?: string | undefined;
  SuspendedDate?: string | undefined;
  SuspendedCause?: string | undefined;
  StatusUpdateReason?: string | undefined;
  FailureReasons: { FailureCode: string; FailureReason: string }[];
  /** Milliseconds spent Active before the current stretch; `activeSince` marks the current one. */
  activeMs: number;
  activeSince?: number | undefined;
  /** Set once the manifest has been read (Preparing done). */
  tasks?: Task[] | undefined;
  GeneratedManifestDescriptor?: { Format: string; Location: { ObjectArn: string; ETag: string } } | undefined;
  /** Asked to cancel: no new task starts, the ones in flight finish. */
  cancelRequested?: boolean | undefined;
}

export interface Progress {
  TotalNumberOfTasks: number;
  NumberOfTasksSucceeded: number;
  NumberOfTasksFailed: number;
  ElapsedTimeInActiveSeconds: number;
}

export function progressOf(job: JobRecord, nowMs: number): Progress {
  let succeeded = 0;
  let failed = 0;
  for (const t of job.tasks ?? []) {
    if (t.outcome?.status === 'succeeded') succeeded += 1;
    else if (t.outcome?.status === 'failed') failed += 1;
  }
  const activeMs = job.activeMs + (job.activeSince === undefined ? 0 : nowMs - job.activeSince);
  return {
    TotalNumberOfTasks: job.tasks?.length ?? 0,
    NumberOfTasksSucceeded: succeeded,
    NumberOfTasksFailed: failed,
    ElapsedTimeInActiveSeconds: Math.floor(activeMs / 1000),
  };
}
