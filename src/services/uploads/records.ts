import { DomainError } from '../../core/errors.js';
import {
  isUploadId,
  parseUploadRecord,
  pendingKeyOf,
  recordKeyOf,
  stagingKeyOf,
  type UploadErrorCode,
  type UploadRecord,
  verifyingKeyOf,
} from '../../core/upload-record.js';
import { failed, isPastLinks } from '../../core/upload-transitions.js';
import type { StagingArea } from '../../ports.js';

/**
 * The uploads' records and staging data in the staging bucket: each record read with its ETag and
 * written only if still that version (or new), so that two steps racing on one upload never both
 * win; the record first, then the staging data, since the record is the truth.
 */
export class UploadRecords {
  constructor(
    readonly staging: StagingArea,
    private readonly now: () => Date,
    /** Where the multipart uploads of client-sealed uploads are: the vault. */
    private readonly vault: Pick<StagingArea, 'abortMultipart'>,
    /** Where verified uploads are completed before their verify step: the vault's root. */
    private readonly pending: Pick<StagingArea, 'abortMultipart' | 'delete'> = vault as Pick<
      StagingArea,
      'abortMultipart' | 'delete'
    >,
  ) {}

  /** An upload's record and its ETag; undefined when there is none (or the id is not one). */
  async read(id: string): Promise<{ record: UploadRecord; etag: string } | undefined> {
    if (!isUploadId(id)) return undefined;
    let object: Awaited<ReturnType<StagingArea['get']>>;
    try {
      object = await this.staging.get(recordKeyOf(id));
    } catch (error) {
      if (error instanceof DomainError && error.code === 'NotFound') return undefined;
      throw error;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of object.body as AsyncIterable<Buffer>) chunks.push(chunk);
    return { record: parseUploadRecord(Buffer.concat(chunks).toString('utf8'), id), etag: object.etag };
  }

  /** Writes a record only if it is still the version read (`etag`), or new (`undefined`). */
  async write(record: UploadRecord, etag: string | undefined): Promise<string> {
    const body = Buffer.from(JSON.stringify(record));
    const out = await this.staging.put(recordKeyOf(record.id), body, {
      metadata: {},
      contentType: 'application/json',
      contentLength: body.length,
      ...(etag === undefined ? { ifNoneMatch: '*' as const } : { ifMatch: etag }),
    });
    return out.etag;
  }

  /** A new upload's record, and its marker for the sweep. */
  async create(record: UploadRecord): Promise<void> {
    await this.write(record, undefined);
    await this.staging.put(pendingKeyOf(record.id), Buffer.alloc(0), { metadata: {}, contentLength: 0 });
  }

  /** Whether the uploader's data is in the staging area (listed, never read). */
  staged(id: string): Promise<boolean> {
    return this.staging.exists(stagingKeyOf(id));
  }

  /** Removes what an upload over leaves in the staging area (its data, its marker). */
  async clear(id: string): Promise<void> {
    await this.staging.delete(stagingKeyOf(id));
    await this.staging.delete(pendingKeyOf(id));
  }

  /** Ends an upload failed, then removes its staging data (the record first: it is the truth). */
  async fail(
    record: UploadRecord,
    etag: string,
    code: UploadErrorCode,
    message: string,
  ): Promise<UploadRecord> {
    const out = failed(record, code, message);
    await this.write(out, etag);
    // A client-sealed upload's parts are in the vault, under the document's own name (never listed
    // until completed); aborting them is what ends an expired or cancelled one there.
    // A verified one is at its pending name: its parts, or once completed there, its object.
    if (record.sealedBy === 'client' && record.verify && record.verifying)
      await this.pending.delete(verifyingKeyOf(record.id));
    else if (record.multipartId !== undefined && record.sealedBy === 'client' && record.verify)
      await this.pending.abortMultipart(verifyingKeyOf(record.id), record.multipartId);
    else if (record.multipartId !== undefined && record.sealedBy === 'client')
      await this.vault.abortMultipart(record.key, record.multipartId);
    else if (record.multipartId !== undefined)
      await this.staging.abortMultipart(stagingKeyOf(record.id), record.multipartId);
    await this.clear(record.id);
    return out;
  }

  /**
   * A pending upload whose URLs expired with nothing uploaded (and nothing completing) ends
   * failed/Expired; answers it then, else undefined (also when another step changed it first).
   */
  async expireIfAbandoned(record: UploadRecord, etag: string): Promise<UploadRecord | undefined> {
    if (!isPastLinks(record, this.now())) return undefined;
    if (await this.staged(record.id)) return undefined;
    try {
      return await this.fail(
        record,
        etag,
        'Expired',
        `Nothing was uploaded before the links expired at ${record.expiresAt}.`,
      );
    } catch (error) {
      if (error instanceof DomainError && error.code === 'PreconditionFailed') return undefined;
      throw error;
    }
  }
}
