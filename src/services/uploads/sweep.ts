import { PENDING_PREFIX, pendingIdOf, pendingKeyOf, type UploadRecord } from '../../core/upload-record.js';
import type { UploadRecords } from './records.js';
import type { SealOutcome } from './seal.js';

export interface SweepResult {
  sealed: number;
  expired: number;
  failed: number;
  /**
   * Age in seconds of the oldest upload whose bytes are staged but still not sealed when the
   * sweep is done with it (its seal failed transiently, or another seal holds it), counted from
   * when the upload began; 0 when there is none. The seal-backlog alarm watches it.
   */
  oldestUnsealedSeconds: number;
}

/**
 * One pass over the pending uploads (their `pending/` markers): seals those whose staging object
 * is there and whose seal died (lease expired), and ends failed those whose links expired with
 * nothing uploaded; client-sealed ones are settled (`settle`). Run on a schedule; answers what it did. An upload that fails to seal is
 * logged (its id and the error's name, never a byte of it) and tried again on the next sweep.
 */
export async function sweepUploads(
  deps: {
    records: UploadRecords;
    seal: (id: string) => Promise<SealOutcome>;
    /** A client-sealed upload past its links: finished, ended Expired (its vault parts aborted), or left. */
    settle?: (record: UploadRecord, etag: string) => Promise<'sealed' | 'expired' | undefined>;
    now?: () => Date;
  },
  log: (message: string, extra: Record<string, unknown>) => void = () => undefined,
): Promise<SweepResult> {
  const { records, seal } = deps;
  const now = (deps.now ?? (() => new Date()))().getTime();
  const done: SweepResult = { sealed: 0, expired: 0, failed: 0, oldestUnsealedSeconds: 0 };
  const unsealed = (since: Date) => {
    const age = Math.max(0, Math.floor((now - since.getTime()) / 1000));
    done.oldestUnsealedSeconds = Math.max(done.oldestUnsealedSeconds, age);
  };
  let nextToken: string | undefined;
  do {
    const page = await records.staging.list(PENDING_PREFIX, 100, nextToken);
    for (const item of page.items) {
      const id = pendingIdOf(item.key);
      if (!id) continue;
      try {
        const found = await records.read(id);
        if (found?.record.state !== 'pending') {
          await records.staging.delete(pendingKeyOf(id));
          continue;
        }
        if (found.record.sealedBy === 'client' && found.record.verifying) {
          // Completed at its pending name: its verify step runs as a seal (and is retried so).
          const outcome = await seal(id);
          if (outcome === 'sealed') done.sealed++;
          if (outcome === 'busy') unsealed(item.lastModified);
          if (outcome === 'failed') done.failed++;
          continue;
        }
        if (found.record.sealedBy === 'client') {
          // Nothing to seal: its ciphertext goes straight into the vault's multipart upload.
          const settled = await deps.settle?.(found.record, found.etag);
          if (settled === 'sealed') done.sealed++;
          if (settled === 'expired') done.expired++;
          continue;
        }
        if (await records.expireIfAbandoned(found.record, found.etag)) {
          done.expired++;
          continue;
        }
        if (!(await records.staged(id))) continue;
        const outcome = await seal(id);
        if (outcome === 'sealed') done.sealed++;
        if (outcome === 'busy') unsealed(item.lastModified);
        if (outcome === 'failed') done.failed++;
      } catch (error) {
        done.failed++;
        unsealed(item.lastModified);
        log('sweep: the upload could not be sealed; it is tried again on the next sweep', {
          uploadId: id,
          error: (error as Error)?.name,
          reason: (error as Error)?.message,
        });
      }
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return done;
}
