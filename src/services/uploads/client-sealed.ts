import { contentSealOf, EAAS_METADATA, kmsContextFor, TAG_BYTES } from '../../core/envelope/index.js';
import { DomainError, ValidationError } from '../../core/errors.js';
import { stagingKeyOf, type UploadRecord, uploadedParts, verifyingKeyOf } from '../../core/upload-record.js';
import { checkCompletion, verifyingStarted } from '../../core/upload-transitions.js';
import type { Keys, LargeObjects, ObjectCopies, ObjectStore, StagingArea } from '../../ports.js';
import { objectMetadata } from '../envelope-writer.js';
import type { UploadOptions } from './options.js';
import type { UploadRecords } from './records.js';
import { endSealed, putInstructionFile } from './sealed.js';

/** The vault as client-sealed uploads use it: a multipart upload this service starts and completes. */
export type VaultUploads = ObjectStore &
  LargeObjects &
  ObjectCopies &
  Pick<StagingArea, 'startMultipart' | 'presignPart' | 'completeMultipart' | 'abortMultipart' | 'listParts'>;

/** The AES-256-GCM parameters handed to the uploader, base64, as the download route hands them. */
export interface IssuedCipher {
  algorithm: 'AES-256-GCM';
  key: string;
  iv: string;
  aad: string;
  tagLength: number;
}

/**
 * Uploads sealed in the client: this service makes the object's data key (KMS GenerateDataKey
 * under its context), its S3EC header and its own metadata, and starts the vault's multipart
 * upload at the document's name with that metadata, so that the uploader chooses none of it; the
 * uploader is handed the content key, IV and AAD, encrypts, and PUTs the ciphertext and tag
 * straight into the presigned parts (each bound to its planned size). The completion checks the
 * parts S3 holds and completes under the same conditions as the seal (the key still free, or
 * still the version its owner may replace). Until then S3 shows nothing at the name.
 */
export class ClientSealedUploads {
  constructor(
    private readonly keys: Keys,
    private readonly records: UploadRecords,
    private readonly vault: VaultUploads,
    private readonly options: UploadOptions,
    private readonly now: () => Date,
    /** The vault's root (no object prefix): where verified uploads complete, at a reserved name. */
    private readonly pending: VaultUploads = vault,
  ) {}

  /** Where an upload's multipart upload is: its pending name when verified, else the document's. */
  private target(record: UploadRecord): { store: VaultUploads; key: string } {
    return record.verify
      ? { store: this.pending, key: verifyingKeyOf(record.id) }
      : { store: this.vault, key: record.key };
  }

  /**
   * Starts the vault's multipart upload for a new (checked) upload record and records it; answers
   * the part URLs and the content cipher. The service keeps no copy of the content key.
   */
  async start(record: UploadRecord, expiresIn: number) {
    const kmsContext = kmsContextFor(this.options.version, record.context);
    const dataKey = await this.keys.generateDataKey({
      keyId: record.keyArn,
      context: kmsContext,
      numberOfBytes: 32,
      includePlaintext: true,
    });
    const plainKey = Buffer.from(dataKey.plaintext ?? new Uint8Array());
    dataKey.plaintext?.fill(0);
    // Zeroes plainKey; the derived content key is zeroed below once encoded for the answer.
    const { header, cipher } = contentSealOf({
      version: this.options.version,
      dataKey: plainKey,
      wrappedKey: Buffer.from(dataKey.ciphertext),
      kmsContext,
      plaintextLength: record.size,
    });
    try {
      const { metadata, instruction } = objectMetadata(header, dataKey.keyArn, {
        [EAAS_METADATA.owner]: record.owner,
        [EAAS_METADATA.created]: this.now().toISOString(),
        [EAAS_METADATA.uploadId]: record.id,
        // A verified upload's copy into place adds its attempt's nonce (32 hex digits): counted
        // here, so that a header that fits the 2 KB of metadata now still fits then.
        ...(record.verify ? { [EAAS_METADATA.sealNonce]: '0'.repeat(32) } : {}),
      });
      const { partSize, sizes } = uploadedParts({ size: record.size, sealedBy: 'client' });
      const target = this.target(record);
      const multipartId = await target.store.startMultipart(
        target.key,
        record.contentType ?? 'application/octet-stream',
        metadata,
      );
      const out: UploadRecord = {
        ...record,
        sealedBy: 'client',
        method: 'multipart',
        multipartId,
        partSize,
        ...(instruction !== undefined ? { instruction } : {}),
      };
      let parts: { partNumber: number; size: number; url: string }[];
      try {
        parts = await Promise.all(
          sizes.map(async (size, i) => ({
            partNumber: i + 1,
            size,
            url: await target.store.presignPart(target.key, multipartId, i + 1, size, expiresIn),
          })),
        );
        await this.records.create(out);
      } catch (error) {
        await target.store.abortMultipart(target.key, multipartId).catch(() => undefined);
        throw error;
      }
      const issued: IssuedCipher = {
        algorithm: 'AES-256-GCM',
        key: cipher.key.toString('base64'),
        iv: cipher.iv.toString('base64'),
        aad: cipher.aad.toString('base64'),
        tagLength: TAG_BYTES,
      };
      return { record: out, partSize, parts, cipher: issued };
    } finally {
      cipher.key.fill(0);
    }
  }

  /**
   * Finishes an upload whose object this upload wrote (S3 assembled it, but recording it failed):
   * the record at `etag` ends sealed. Undefined when the object at its name is not this upload's.
   */
  async finishIfWritten(record: UploadRecord, etag: string) {
    const written = await this.writtenBy(record);
    return written ? this.afterWritten(record, etag, written) : undefined;
  }

  /** Once S3 assembled the object: a verified upload goes to the verify step, any other ends sealed. */
  private afterWritten(record: UploadRecord, etag: string, object: { etag: string }) {
    return record.verify ? this.toVerify(record, etag) : this.finish(record, etag, object);
  }

  /** The vault object at the upload's name when this upload completed it (a completion retried). */
  private async writtenBy(record: UploadRecord) {
    const target = this.target(record);
    const existing = await target.store.head(target.key);
    return existing?.metadata[EAAS_METADATA.uploadId] === record.id &&
      existing.size === record.size + TAG_BYTES
      ? existing
      : undefined;
  }

  /**
   * Completes a client-sealed upload (its record marked `completing` by the caller, at `etag`):
   * the parts S3 holds must be exactly the planned ones (each the size planned, the ETags the
   * uploader names), then S3 assembles them under the seal's conditions; the upload ends sealed.
   * A write by someone else meanwhile ends it failed/Conflict (PreconditionFailed to the caller).
   */
  async complete(
    record: UploadRecord,
    etag: string,
    named: { partNumber: number; etag: string }[],
  ): Promise<{ record: UploadRecord; etag: string }> {
    checkCompletion(
      record,
      named.map((p) => p.partNumber),
      this.now(),
    );
    let object: { etag: string } | undefined;
    let listed: { partNumber: number; etag: string; size: number }[] | undefined;
    const target = this.target(record);
    try {
      listed = await target.store.listParts(target.key, record.multipartId);
    } catch (error) {
      if (!(error instanceof DomainError && error.code === 'NotFound')) throw error;
      // Completed by an earlier call that did not live to record it: finish that one.
      object = await this.writtenBy(record);
      if (!object) {
        const failed = await this.records.fail(record, etag, 'Expired', 'The parts of the upload are gone.');
        return { record: failed, etag };
      }
    }
    if (listed) {
      const { sizes } = uploadedParts(record);
      const byNumber = new Map(named.map((p) => [p.partNumber, unquoted(p.etag)]));
      const wrong = sizes.findIndex((size, i) => {
        const part = listed[i];
        return (
          part === undefined ||
          part.partNumber !== i + 1 ||
          part.size !== size ||
          byNumber.get(part.partNumber) !== unquoted(part.etag)
        );
      });
      if (wrong !== -1 || listed.length !== sizes.length)
        throw new ValidationError(
          `parts: part ${wrong === -1 ? sizes.length + 1 : wrong + 1} is not the one this upload holds (its ETag and planned size); send each part to its URL, then complete with the ETags S3 answered.`,
        );
      try {
        object = await target.store.completeMultipart(
          target.key,
          record.multipartId,
          listed.map(({ partNumber, etag: partEtag }) => ({ partNumber, etag: partEtag })),
          // A verified upload completes at its own pending name; the seal's conditions come with
          // its copy into place, after the verify step.
          record.verify || record.replaces === null ? { ifNoneMatch: '*' } : { ifMatch: record.replaces },
        );
      } catch (error) {
        // NotFound: the multipart upload is gone (an earlier attempt S3 committed, whose answer was
        // lost: finish that one), or the document it was to replace was deleted meanwhile (If-Match
        // finds no object), which is a write meanwhile like any other.
        if (error instanceof DomainError && error.code === 'NotFound') {
          const written = await this.writtenBy(record);
          if (written) return this.afterWritten(record, etag, written);
          if (record.replaces === null) throw error;
        }
        if (
          error instanceof DomainError &&
          (error.code === 'PreconditionFailed' || error.code === 'NotFound')
        ) {
          await this.records.fail(
            record,
            etag,
            'Conflict',
            `The object ${JSON.stringify(record.key)} was written meanwhile.`,
          );
          throw new DomainError(
            'PreconditionFailed',
            `The object ${JSON.stringify(record.key)} was written meanwhile; the upload ended failed (Conflict).`,
          );
        }
        throw error;
      }
    }
    if (!object) throw new DomainError('InternalError', 'The upload was neither completed nor found.');
    return this.afterWritten(record, etag, object);
  }

  /**
   * A verified upload completed at its pending name: recorded `verifying`, then an empty marker at
   * its staging name, whose ObjectCreated event the staging bucket already delivers to the seal
   * function (as for an upload sealed by the service); the sweep retries one left undone.
   */
  private async toVerify(record: UploadRecord, etag: string) {
    const next = verifyingStarted(record);
    const nextEtag = await this.records.write(next, etag);
    await this.records.staging.put(stagingKeyOf(record.id), Buffer.alloc(0), {
      metadata: {},
      contentLength: 0,
    });
    return { record: next, etag: nextEtag };
  }

  /**
   * What the sweep does with a client-sealed upload: nothing while its links live (or, when a
   * completion began, for COMPLETION_GRACE_MS more); then, if a completion wrote its object but did
   * not live to record it, finish it; else end it Expired, which aborts its parts in the vault.
   */
  async settle(record: UploadRecord, etag: string): Promise<'sealed' | 'expired' | undefined> {
    const now = this.now().getTime();
    const expiry = Date.parse(record.expiresAt);
    // A verified upload completed at its pending name belongs to the verify step (the seal).
    if (record.state !== 'pending' || record.verifying || now <= expiry) return undefined;
    if (record.completing && now <= expiry + COMPLETION_GRACE_MS) return undefined;
    try {
      // Whatever the mark says: a completion whose recording failed may have left it unset.
      const written = await this.writtenBy(record);
      if (written && record.verify) {
        await this.toVerify(record, etag);
        return undefined;
      }
      if (written) {
        await this.finish(record, etag, written);
        return 'sealed';
      }
      await this.records.fail(
        record,
        etag,
        'Expired',
        `Not completed before the links expired at ${record.expiresAt}.`,
      );
      return 'expired';
    } catch (error) {
      // Another step changed the upload first: that one decides.
      if (error instanceof DomainError && error.code === 'PreconditionFailed') return undefined;
      throw error;
    }
  }

  /** The object is in place: its instruction file if any, then the upload recorded sealed. */
  private async finish(record: UploadRecord, etag: string, object: { etag: string }) {
    await putInstructionFile(this.vault, record.key, record.instruction);
    return endSealed(this.records, this.options, this.now(), record, etag, object);
  }
}

const unquoted = (etag: string) => etag.replace(/^"|"$/g, '');

/** How long after its links expire a completion that began is left to finish before the sweep decides. */
export const COMPLETION_GRACE_MS = 15 * 60_000;
