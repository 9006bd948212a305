import type { S3Event } from 'aws-lambda';
import type { Meter } from '../observability/meter.js';
import type { UploadService } from '../services/uploads.js';
import { uploadIdOf } from '../services/uploads.js';

export interface SealDeps {
  uploads: UploadService;
  /** The staging bucket: events from any other bucket are ignored. */
  stagingBucket: string;
  /** Told the sweep's oldest unsealed upload (bytes sealed come from the upload service). */
  meter?: Pick<Meter, 'oldestPendingUpload'>;
  logger: {
    info(message: string, extra?: Record<string, unknown>): void;
    error(message: string, extra?: Record<string, unknown>): void;
  };
}

/** A scheduled invocation (EventBridge): sweep the pending uploads. */
interface ScheduledEvent {
  source: 'aws.events';
}

/** S3 keys in events are form-encoded (spaces as +). */
const decodeKey = (key: string) => decodeURIComponent(key.replace(/\+/g, ' '));

/**
 * The seal function: on an S3 ObjectCreated event in the staging bucket it seals each uploaded
 * object into the vault; on a schedule it sweeps pending uploads (a seal that died, links that
 * expired). Transient failures are thrown, so that Lambda delivers the event again; the seal is
 * idempotent. Logs ids and outcomes only, never a byte of a document.
 */
export function makeHandler(deps: SealDeps) {
  return async (event: S3Event | ScheduledEvent): Promise<{ outcomes: Record<string, string> }> => {
    const outcomes: Record<string, string> = {};
    if ('source' in event && event.source === 'aws.events') {
      const swept = await deps.uploads.sweep();
      deps.meter?.oldestPendingUpload(swept.oldestUnsealedSeconds);
      deps.logger.info('swept pending uploads', { ...swept });
      return { outcomes: { sweep: JSON.stringify(swept) } };
    }
    let failure: unknown;
    for (const record of (event as S3Event).Records ?? []) {
      if (record.s3.bucket.name !== deps.stagingBucket) continue;
      const id = uploadIdOf(decodeKey(record.s3.object.key));
      if (!id) continue;
      try {
        outcomes[id] = await deps.uploads.seal(id);
        deps.logger.info('seal', { uploadId: id, outcome: outcomes[id] });
      } catch (error) {
        outcomes[id] = 'retry';
        deps.logger.error('seal failed; the event will be retried', {
          uploadId: id,
          error: (error as Error)?.name,
          reason: (error as Error)?.message,
        });
        failure ??= error;
      }
    }
    if (failure) throw failure;
    return { outcomes };
  };
}
