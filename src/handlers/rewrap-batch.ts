import type { S3BatchEventV2, S3BatchResultV2 } from '../core/rewrap-batch.js';
import type { RewrapBatchTasks } from '../services/rewrap-batch-task.js';

/**
 * The per-object function of the batch engine (S3 Batch Operations `LambdaInvoke`, invocation
 * schema 2.0): each task re-wrapped by `RewrapBatchTasks`, answered Succeeded, TemporaryFailure or
 * PermanentFailure. An event of another schema is refused whole (S3 would otherwise read keys
 * from fields this function does not know).
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-invoke-lambda.html
 */

export interface RewrapBatchDeps {
  tasks: RewrapBatchTasks;
}

export function makeHandler(deps: RewrapBatchDeps) {
  return async (event: S3BatchEventV2): Promise<S3BatchResultV2> => {
    if (!isEventV2(event)) {
      const e = event as Partial<S3BatchEventV2> | undefined;
      return {
        invocationSchemaVersion: '2.0',
        treatMissingKeysAs: 'PermanentFailure',
        invocationId: typeof e?.invocationId === 'string' ? e.invocationId : '',
        results: (Array.isArray(e?.tasks) ? e.tasks : [])
          .filter((t) => typeof t?.taskId === 'string')
          .map((t) => ({
            taskId: t.taskId,
            resultCode: 'PermanentFailure' as const,
            resultString: 'invocation schema 2.0 expected',
          })),
      };
    }
    return deps.tasks.handle(event);
  };
}

function isEventV2(event: unknown): event is S3BatchEventV2 {
  const e = event as Partial<S3BatchEventV2> | undefined;
  return (
    e?.invocationSchemaVersion === '2.0' &&
    typeof e.invocationId === 'string' &&
    typeof e.job?.id === 'string' &&
    Array.isArray(e.tasks) &&
    e.tasks.every(
      (t) => typeof t?.taskId === 'string' && typeof t.s3Key === 'string' && typeof t.s3Bucket === 'string',
    )
  );
}
