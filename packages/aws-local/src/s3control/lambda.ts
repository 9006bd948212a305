import { randomBytes } from 'node:crypto';
import type { JobRecord, Task, TaskOutcome } from './job.js';
import { encodeKey } from './reports.js';

/**
 * One task's invocation of the job's function, as S3 Batch Operations makes it
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-invoke-lambda.html): one task
 * per invocation, the event of the job's invocation schema (1.0: `s3BucketArn`; 2.0: `s3Bucket`
 * and the job's `userArguments`), keys URL-encoded, and the function's answer read per task:
 * `Succeeded`, `TemporaryFailure` (redriven before the job completes) or `PermanentFailure`,
 * with `treatMissingKeysAs` for a task the answer leaves out.
 */

/** What the local S3 Control calls for a function ARN: the function's handler, in process. */
export type BatchFunction = (event: BatchInvocationEvent) => Promise<unknown>;

export interface BatchInvocationEvent {
  invocationSchemaVersion: string;
  invocationId: string;
  job: { id: string; userArguments?: Record<string, string> };
  tasks: {
    taskId: string;
    s3Key: string;
    s3VersionId: string | null;
    s3Bucket?: string;
    s3BucketArn?: string;
  }[];
}

/** How one attempt ended: a final outcome, or a failure worth another attempt. */
export type Attempt = { final: TaskOutcome } | { retry: TaskOutcome };

const RESULT_CODES = new Set(['Succeeded', 'TemporaryFailure', 'PermanentFailure']);

export function invocationEvent(job: JobRecord, task: Task, taskId: string): BatchInvocationEvent {
  const lambda = job.spec.Operation.LambdaInvoke;
  const v2 = lambda.InvocationSchemaVersion === '2.0';
  return {
    invocationSchemaVersion: lambda.InvocationSchemaVersion,
    invocationId: randomBytes(24).toString('base64url'),
    job: {
      id: job.JobId,
      ...(v2 && lambda.UserArguments ? { userArguments: { ...lambda.UserArguments } } : {}),
    },
    tasks: [
      {
        taskId,
        s3Key: encodeKey(task.key),
        s3VersionId: task.versionId ?? null,
        ...(v2 ? { s3Bucket: task.bucket } : { s3BucketArn: `arn:aws:s3:::${task.bucket}` }),
      },
    ],
  };
}

function functionError(message: string): TaskOutcome {
  return {
    status: 'failed',
    errorCode: 'PermanentFailure',
    resultMessage: `Lambda returned function error: ${JSON.stringify({ errorMessage: message })}`,
  };
}

/** Runs the function once for the task, within `timeoutMs`; a throw or a timeout is retried. */
export async function invokeOnce(
  fn: BatchFunction,
  event: BatchInvocationEvent,
  timeoutMs: number,
): Promise<Attempt> {
  let timer: NodeJS.Timeout | undefined;
  let answer: unknown;
  try {
    answer = await Promise.race([
      fn(structuredClone(event)),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`)),
          timeoutMs,
        );
      }),
    ]);
  } catch (error) {
    // Lambda's synchronous invocation failed (the function threw or timed out): S3 retries it.
    return { retry: functionError(error instanceof Error ? error.message : String(error)) };
  } finally {
    clearTimeout(timer);
  }
  return readAnswer(answer, event);
}

/** The function's answer for the event's one task. */
export function readAnswer(answer: unknown, event: BatchInvocationEvent): Attempt {
  const invalid: Attempt = {
    final: {
      status: 'failed',
      errorCode: 'PermanentFailure',
      resultMessage: 'Invalid JSON returned in Lambda payload',
    },
  };
  if (answer === null || typeof answer !== 'object' || Array.isArray(answer)) return invalid;
  const a = answer as Record<string, unknown>;
  const results = a.results;
  if (!Array.isArray(results)) return invalid;
  const taskId = event.tasks[0]?.taskId;
  const mine = results.find(
    (r) => r && typeof r === 'object' && (r as { taskId?: unknown }).taskId === taskId,
  ) as { resultCode?: unknown; resultString?: unknown } | undefined;
  const missing = typeof a.treatMissingKeysAs === 'string' ? a.treatMissingKeysAs : 'PermanentFailure';
  const code = mine ? mine.resultCode : missing;
  const message = mine && typeof mine.resultString === 'string' ? mine.resultString : '';
  if (typeof code !== 'string' || !RESULT_CODES.has(code)) return invalid;
  if (code === 'Succeeded') return { final: { status: 'succeeded', resultMessage: message } };
  const outcome: TaskOutcome = { status: 'failed', errorCode: code, resultMessage: message };
  return code === 'TemporaryFailure' ? { retry: outcome } : { final: outcome };
}
