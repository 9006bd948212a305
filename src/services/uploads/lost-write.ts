import { EAAS_METADATA } from '../../core/envelope/index.js';
import { DomainError } from '../../core/errors.js';
import type { UploadRecord } from '../../core/upload-record.js';
import { released } from '../../core/upload-transitions.js';
import type { ObjectStore } from '../../ports.js';
import type { UploadRecords } from './records.js';

/** A conditional write lost (S3's `412`): our record's condition, or the vault object's. */
export const isLostWrite = (error: unknown): boolean =>
  error instanceof DomainError && error.code === 'PreconditionFailed';

/** Gives the upload's lease back, for the next delivery or sweep; a lost race just lets it expire. */
export async function releaseUpload(
  records: UploadRecords,
  record: UploadRecord,
  etag: string,
): Promise<void> {
  await records.write(released(record), etag).catch(() => undefined);
}

/**
 * What a seal or a verify step does after a conditional write lost (the seal's and the verify
 * step's writes to the vault are both conditional, If-None-Match or If-Match, as is the record):
 * - our own record moved on (another attempt took over, or a cancel): that one decides (`busy`);
 * - the document's name was written by an attempt of this upload that outlived its lease: the
 *   next attempt replaces that object (`busy`, released with `replaces`);
 * - it was written by another writer, whose document is left untouched: the upload ends
 *   failed/Conflict.
 */
export async function afterLostWrite(
  records: UploadRecords,
  vault: Pick<ObjectStore, 'head'>,
  record: UploadRecord,
  etag: string,
): Promise<'busy' | 'failed'> {
  const current = await records.read(record.id);
  if (current?.etag !== etag) return 'busy';
  const existing = await vault.head(record.key);
  if (existing?.metadata[EAAS_METADATA.uploadId] === record.id) {
    await releaseUpload(records, { ...record, replaces: existing.etag }, etag);
    return 'busy';
  }
  await records.fail(
    record,
    etag,
    'Conflict',
    `The object ${JSON.stringify(record.key)} was written meanwhile.`,
  );
  return 'failed';
}
