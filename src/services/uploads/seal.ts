import { randomBytes } from 'node:crypto';
import { checkObjectContext, EAAS_METADATA, kmsContextFor, TAG_BYTES } from '../../core/envelope/index.js';
import { DomainError } from '../../core/errors.js';
import { refuseSpaceName } from '../../core/spaces.js';
import { isUploadId, stagingKeyOf, type UploadRecord } from '../../core/upload-record.js';
import { afterSealFailure, sealLease, sealStart, withAttempt } from '../../core/upload-transitions.js';
import type { Keys, LargeObjects, ObjectStore } from '../../ports.js';
import type { DocumentService } from '../documents.js';
import { newEnvelope } from '../envelope-writer.js';
import { afterLostWrite, isLostWrite, releaseUpload } from './lost-write.js';
import type { UploadOptions } from './options.js';
import type { UploadRecords } from './records.js';
import { StagingChangedError, writeVaultObject } from './seal-stream.js';
import { endSealed, putInstructionFile } from './sealed.js';

/** How a seal ended: `busy` when another seal holds the upload, `absent` when there is nothing to seal. */
export type SealOutcome = 'sealed' | 'failed' | 'busy' | 'absent';

/**
 * The seal: streams an uploaded staging object through S3EC envelope encryption into the vault
 * and deletes it. It holds a lease on the upload's record while it works; one that dies leaves the
 * lease to expire, the staging object in place and at most an incomplete multipart upload in the
 * vault, which S3 never shows; the next delivery of the event, or the sweep, seals again.
 */
export class UploadSealer {
  constructor(
    private readonly keys: Keys,
    private readonly documents: Pick<DocumentService, 'checkNewKey' | 'removeUnreadable'>,
    private readonly records: UploadRecords,
    private readonly vault: ObjectStore & LargeObjects,
    private readonly options: UploadOptions,
    private readonly now: () => Date,
    /** The verify step of a client-sealed upload (`verify: true`), delivered as a seal is. */
    private readonly verify?: (id: string) => Promise<SealOutcome>,
  ) {}

  /**
   * Seals an uploaded staging object into the vault; idempotent: a sealed or failed upload is
   * only cleaned up, one another seal holds is left alone. Transient failures (S3, KMS) release
   * the lease and are thrown, so that the event is delivered again; permanent ones (the key
   * disabled or refused, the object replaced meanwhile, the size wrong) end the upload failed.
   */
  async seal(id: string): Promise<SealOutcome> {
    const staging = this.records.staging;
    for (let attempt = 0; attempt < 3; attempt++) {
      const found = await this.records.read(id);
      if (!found) {
        // A staging object no upload accounts for is never sealed, only removed.
        if (isUploadId(id)) await staging.delete(stagingKeyOf(id));
        return 'absent';
      }
      const { record, etag } = found;
      // Its ciphertext is in the vault already: only a verified one has a step here (its marker).
      if (record.sealedBy === 'client') return this.verify ? this.verify(id) : 'absent';
      const start = sealStart(record, this.now());
      if (start.kind === 'over') {
        await staging.delete(stagingKeyOf(id));
        return start.state;
      }
      if (start.kind === 'busy') return 'busy';
      const staged = await staging.head(stagingKeyOf(id));
      const next = sealLease(record, staged, this.now(), this.options.leaseSeconds);
      if (next.kind === 'absent') return 'absent';
      if (next.kind === 'fail') {
        await this.records.fail(record, etag, next.code, next.message);
        return 'failed';
      }
      let leaseEtag: string;
      try {
        leaseEtag = await this.records.write(next.record, etag);
      } catch (error) {
        if (error instanceof DomainError && error.code === 'PreconditionFailed') continue;
        throw error;
      }
      return this.sealLeased(next.record, leaseEtag, next.staged.etag);
    }
    return 'busy';
  }

  /** The vault object at the upload's key when the given seal attempt wrote it whole. */
  private async writtenBy(record: UploadRecord, nonce: string | undefined) {
    if (nonce === undefined) return undefined;
    const existing = await this.vault.head(record.key);
    return existing?.metadata[EAAS_METADATA.sealNonce] === nonce && existing.size === record.size + TAG_BYTES
      ? existing
      : undefined;
  }

  private async sealLeased(
    leased: UploadRecord,
    leaseEtag: string,
    stagedEtag: string,
  ): Promise<SealOutcome> {
    let record = leased;
    let etag = leaseEtag;
    let object: { etag: string };
    try {
      // An earlier attempt died after writing the object: finish it (its instruction file), not anew.
      const finished = await this.writtenBy(record, record.attempt?.nonce);
      if (finished) object = finished;
      else {
        // Records made before names and contexts were checked as now end here, unwritten.
        this.documents.checkNewKey(record.key);
        if (record.person === undefined) refuseSpaceName(record.key);
        checkObjectContext(record.context);
        await this.options.authorizeOwner?.(
          record.owner,
          record.keyArn,
          kmsContextFor(this.options.version, record.context),
          record.person,
        );
        const nonce = randomBytes(16).toString('hex');
        const envelope = await newEnvelope(this.keys, {
          version: this.options.version,
          keyArn: record.keyArn,
          userContext: record.context,
          plaintextLength: record.size,
          ours: {
            [EAAS_METADATA.owner]: record.owner,
            [EAAS_METADATA.created]: this.now().toISOString(),
            [EAAS_METADATA.uploadId]: record.id,
            [EAAS_METADATA.sealNonce]: nonce,
          },
        });
        record = withAttempt(record, nonce, envelope.instruction);
        etag = await this.records.write(record, etag);
        object = await writeVaultObject(
          { staging: this.records.staging, vault: this.vault },
          record,
          stagedEtag,
          envelope.stream,
          envelope.metadata,
        );
      }
      await putInstructionFile(this.vault, record.key, record.attempt?.instruction);
    } catch (error) {
      return this.sealFailed(record, etag, error);
    }
    await endSealed(this.records, this.options, this.now(), record, etag, object);
    return 'sealed';
  }

  private async sealFailed(record: UploadRecord, etag: string, error: unknown): Promise<SealOutcome> {
    if (isLostWrite(error)) return afterLostWrite(this.records, this.vault, record, etag);
    const next = afterSealFailure(record, error, error instanceof StagingChangedError);
    if (next.kind === 'retry') {
      // Read again from a fresh look at the staging object, at once or on the next delivery.
      await this.release(record, etag);
      return 'busy';
    }
    if (next.kind === 'fail') {
      // An object this upload wrote but could not finish (its instruction file) is removed: the
      // upload ends failed, and no half-written document stays at its key.
      if (await this.writtenBy(record, record.attempt?.nonce))
        await this.documents.removeUnreadable(record.key);
      await this.records.fail(record, etag, 'SealFailed', next.message);
      return 'failed';
    }
    // Released for the next delivery or sweep; if the write loses a race, the lease just expires.
    await this.release(record, etag);
    throw error;
  }

  private release(record: UploadRecord, etag: string): Promise<void> {
    return releaseUpload(this.records, record, etag);
  }
}
