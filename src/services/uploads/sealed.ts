import { INSTRUCTION_METADATA } from '../../core/envelope/index.js';
import { instructionKeyOf } from '../../core/object-names.js';
import type { UploadRecord } from '../../core/upload-record.js';
import { sealed } from '../../core/upload-transitions.js';
import type { ObjectStore } from '../../ports.js';
import type { UploadOptions } from './options.js';
import type { UploadRecords } from './records.js';

/**
 * The last steps every way of sealing an upload shares (the seal, the verify step, a client-sealed
 * completion), once the document is at its name.
 */

/** A header that did not fit in the object's metadata: its instruction file, as an S3 Encryption Client writes it. */
export async function putInstructionFile(
  vault: Pick<ObjectStore, 'put'>,
  key: string,
  instruction: string | undefined,
): Promise<void> {
  if (instruction === undefined) return;
  await vault.put(instructionKeyOf(key), Buffer.from(instruction), {
    metadata: { ...INSTRUCTION_METADATA },
    contentType: 'application/json',
  });
}

/** The upload ends sealed: its record says so (If-Match the version held), its marker goes, its bytes are counted. */
export async function endSealed(
  records: UploadRecords,
  options: Pick<UploadOptions, 'version' | 'onSealed'>,
  now: Date,
  record: UploadRecord,
  etag: string,
  object: { etag: string },
): Promise<{ record: UploadRecord; etag: string }> {
  const done = sealed(record, now, { etag: object.etag, format: `s3ec-${options.version}` });
  const doneEtag = await records.write(done, etag);
  await records.clear(record.id);
  options.onSealed?.(record.size);
  return { record: done, etag: doneEtag };
}
