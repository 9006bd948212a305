import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TAG_BYTES } from '../../core/envelope/index.js';
import { DomainError } from '../../core/errors.js';
import { MiB, stagingKeyOf, type UploadRecord } from '../../core/upload-record.js';
import type { LargeObjects, ObjectStore, StagingArea } from '../../ports.js';
import { destroyQuietly } from '../streams.js';

/** The staging object changed or went while the seal read it: seal again from a fresh look. */
export class StagingChangedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StagingChangedError';
  }
}

/** Passes exactly `size` bytes on; more, or fewer by the end, fails the stream (and so the upload). */
class ExactLength extends Transform {
  private seen = 0;
  constructor(private readonly size: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.size) done(new StagingChangedError('The staging object is longer than recorded.'));
    else done(null, chunk);
  }
  override _flush(done: TransformCallback): void {
    done(this.seen === this.size ? null : new StagingChangedError('The staging object ended early.'));
  }
}

/**
 * Streams the staging object (the version the seal checked, exactly its recorded size) through
 * the sealing transform into the vault, replacing only what the upload may replace: the version
 * its owner was allowed to replace, or nothing.
 */
export async function writeVaultObject(
  stores: { staging: StagingArea; vault: ObjectStore & LargeObjects },
  record: UploadRecord,
  stagedEtag: string,
  seal: Transform,
  metadata: Record<string, string>,
): Promise<{ etag: string }> {
  let source: Awaited<ReturnType<ObjectStore['get']>>;
  try {
    source = await stores.staging.get(stagingKeyOf(record.id), { ifMatch: stagedEtag });
  } catch (error) {
    seal.destroy();
    if (error instanceof DomainError && (error.code === 'PreconditionFailed' || error.code === 'NotFound'))
      throw new StagingChangedError('The staging object changed before the seal read it.');
    throw error;
  }
  const body = Readable.from(source.body as AsyncIterable<Buffer>);
  // pipeline() carries a failed read, or a wrong length, into the sealed stream the write reads.
  const piping = pipeline(body, new ExactLength(record.size), seal).then(
    () => undefined,
    (error: unknown) => error,
  );
  // Parts as small as S3 allows (memory is a few parts), larger only to stay within 10,000 parts.
  const partSize = Math.max(5 * MiB, Math.ceil((record.size + TAG_BYTES) / 9_000 / MiB) * MiB);
  try {
    const out = await stores.vault.putStream(record.key, seal, {
      partSize,
      metadata,
      contentType: record.contentType ?? 'application/octet-stream',
      ...(record.replaces === null ? { ifNoneMatch: '*' as const } : { ifMatch: record.replaces }),
    });
    if (out.size !== record.size + TAG_BYTES)
      throw new DomainError('InternalError', 'The sealed object has an unexpected size.');
    return out;
  } finally {
    seal.destroy();
    destroyQuietly(source.body);
    await piping;
  }
}
