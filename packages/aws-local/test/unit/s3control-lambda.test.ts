import { describe, expect, it } from 'vitest';
import type { JobRecord } from '../../src/s3control/job.js';
import {
  type BatchInvocationEvent,
  invocationEvent,
  invokeOnce,
  readAnswer,
} from '../../src/s3control/lambda.js';

const job = (schema: string): JobRecord => ({
  JobId: 'j-1',
  JobArn: 'arn:aws:s3:us-east-1:111122223333:job/j-1',
  AccountId: '111122223333',
  Status: 'Active',
  CreationTime: new Date(0).toISOString(),
  FailureReasons: [],
  activeMs: 0,
  spec: {
    Operation: {
      LambdaInvoke: {
        FunctionArn: 'arn:aws:lambda:us-east-1:111122223333:function:f',
        InvocationSchemaVersion: schema,
        UserArguments: schema === '2.0' ? { a: 'b' } : undefined,
      },
    },
    Report: { Enabled: false },
    Priority: 1,
    RoleArn: 'arn:aws:iam::111122223333:role/r',
    ClientRequestToken: 't',
    ConfirmationRequired: false,
  },
});

const task = { bucket: 'b', key: 'dir/a b+ü.txt', versionId: 'v1' };
const event: BatchInvocationEvent = invocationEvent(job('2.0'), task, 'T');
const answer = (results: unknown[], extra: Record<string, unknown> = {}) => ({
  invocationSchemaVersion: '2.0',
  invocationId: event.invocationId,
  results,
  ...extra,
});

describe('the invocation event (batch-ops-invoke-lambda.html)', () => {
  it('2.0: the bucket name, the key form-URL-encoded (a space as +), the version, the job user arguments', () => {
    expect(event).toEqual({
      invocationSchemaVersion: '2.0',
      invocationId: expect.any(String),
      job: { id: 'j-1', userArguments: { a: 'b' } },
      tasks: [{ taskId: 'T', s3Key: 'dir%2Fa+b%2B%C3%BC.txt', s3VersionId: 'v1', s3Bucket: 'b' }],
    });
  });

  it('1.0: the bucket ARN and no user arguments', () => {
    const e = invocationEvent(job('1.0'), { bucket: 'b', key: 'k' }, 'T');
    expect(e.job).toEqual({ id: 'j-1' });
    expect(e.tasks[0]).toEqual({ taskId: 'T', s3Key: 'k', s3VersionId: null, s3BucketArn: 'arn:aws:s3:::b' });
  });
});

describe('reading the function answer', () => {
  it('Succeeded keeps the result string; PermanentFailure is final; TemporaryFailure is retried', () => {
    expect(readAnswer(answer([{ taskId: 'T', resultCode: 'Succeeded', resultString: 'r' }]), event)).toEqual({
      final: { status: 'succeeded', resultMessage: 'r' },
    });
    expect(
      readAnswer(answer([{ taskId: 'T', resultCode: 'PermanentFailure', resultString: 'p' }]), event),
    ).toEqual({
      final: { status: 'failed', errorCode: 'PermanentFailure', resultMessage: 'p' },
    });
    expect(
      readAnswer(answer([{ taskId: 'T', resultCode: 'TemporaryFailure', resultString: 't' }]), event),
    ).toEqual({
      retry: { status: 'failed', errorCode: 'TemporaryFailure', resultMessage: 't' },
    });
  });

  it('a task left out of the answer takes treatMissingKeysAs (PermanentFailure when absent)', () => {
    expect(readAnswer(answer([], { treatMissingKeysAs: 'Succeeded' }), event)).toMatchObject({
      final: { status: 'succeeded' },
    });
    expect(readAnswer(answer([], { treatMissingKeysAs: 'TemporaryFailure' }), event)).toHaveProperty('retry');
    expect(readAnswer(answer([{ taskId: 'other', resultCode: 'Succeeded' }]), event)).toMatchObject({
      final: { status: 'failed', errorCode: 'PermanentFailure' },
    });
  });

  it('an answer that is not the schema fails the task as AWS says', () => {
    const invalid = {
      final: {
        status: 'failed',
        errorCode: 'PermanentFailure',
        resultMessage: 'Invalid JSON returned in Lambda payload',
      },
    };
    for (const bad of [
      null,
      'text',
      [],
      {},
      { results: 'x' },
      answer([{ taskId: 'T', resultCode: 'Maybe' }]),
    ])
      expect(readAnswer(bad, event)).toEqual(invalid);
  });

  it('a function that throws or runs past its time is retried, with the error as Lambda reports it', async () => {
    const thrown = await invokeOnce(
      async () => {
        throw new Error('boom');
      },
      event,
      1000,
    );
    expect(thrown).toEqual({
      retry: {
        status: 'failed',
        errorCode: 'PermanentFailure',
        resultMessage: 'Lambda returned function error: {"errorMessage":"boom"}',
      },
    });
    const slow = await invokeOnce(() => new Promise(() => undefined), event, 20);
    expect(slow).toMatchObject({
      retry: { resultMessage: expect.stringContaining('Task timed out after 0.02 seconds') },
    });
  });
});
