import { randomBytes } from 'node:crypto';
import {
  authenticate,
  decodeHeader,
  EAAS_METADATA,
  EnvelopeDecryptError,
  EnvelopeFormatError,
  TAG_BYTES,
} from '../../core/envelope/index.js';
import { DomainError } from '../../core/errors.js';
import { stagingKeyOf, type UploadRecord, verifyingKeyOf } from '../../core/upload-record.js';
import { afterSealFailure, verifyLease, withAttempt } from '../../core/upload-transitions.js';
import type { Keys, ObjectCopies, ObjectStore } from '../../ports.js';
import { afterLostWrite, isLostWrite, releaseUpload } from './lost-write.js';
import type { UploadOptions } from './options.js';
import type { UploadRecords } from './records.js';
import type { SealOutcome } from './seal.js';
import { endSealed, putInstructionFile } from './sealed.js';

/** Why a verify step refuses an object: one message whatever the cause, as every decrypt failure. */
const NOT_AUTHENTIC = 'The uploaded object did not authenticate; nothing was stored at the name.';

/** The object did not authenticate (any cause): the upload ends failed/VerifyFailed. */
class NotAuthenticError extends Error {}

/**
 * The verify step of a client-sealed upload (`verify: true`), run by the seal function: the
 * upload was completed at its hidden pending name (`uploads-verifying/{id}`, a reserved prefix of
 * the vault); under a lease on its record this reads the S3EC header, unwraps the data key (KMS
 * Decrypt under the header's context), authenticates the whole object in one streamed pass that
 * releases nothing, zeroes the key, then copies the object to the document's name under the
 * seal's conditions (If-None-Match: * when it replaces nothing, If-Match the version it may
 * replace), writes its instruction file, deletes the pending object and ends the upload sealed.
 *
 * The copy carries a nonce noted in the record first (`attempt`), so that an attempt that died
 * after its copy is finished by the next, never copied again over a newer write.
 */
export class UploadVerifier {
  constructor(
    private readonly keys: Pick<Keys, 'decrypt'>,
    private readonly records: UploadRecords,
    /** The documents (behind the object prefix), copied into from the pending names. */
    private readonly vault: ObjectStore & ObjectCopies,
    /** The vault's root: the pending names. */
    private readonly pending: ObjectStore,
    private readonly options: UploadOptions,
    private readonly now: () => Date,
  ) {}

  /** Verifies and places a verified upload; idempotent, as the seal (`SealOutcome`). */
  async verify(id: string): Promise<SealOutcome> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const found = await this.records.read(id);
      if (!found) return 'absent';
      const next = verifyLease(found.record, this.now(), this.options.leaseSeconds);
      if (next.kind === 'over') {
        await this.records.staging.delete(stagingKeyOf(id));
        return next.state;
      }
      if (next.kind === 'busy') return 'busy';
      // Not completed at its pending name yet: its completion's marker comes then.
      if (next.kind === 'none') return 'absent';
      let leaseEtag: string;
      try {
        leaseEtag = await this.records.write(next.record, found.etag);
      } catch (error) {
        if (error instanceof DomainError && error.code === 'PreconditionFailed') continue;
        throw error;
      }
      return this.verifyLeased(next.record, leaseEtag);
    }
    return 'busy';
  }

  /** The object at the document's name when the given attempt copied it there. */
  private async copiedBy(record: UploadRecord, nonce: string | undefined) {
    if (nonce === undefined) return undefined;
    const existing = await this.vault.head(record.key);
    return existing?.metadata[EAAS_METADATA.sealNonce] === nonce &&
      existing.metadata[EAAS_METADATA.uploadId] === record.id &&
      existing.size === record.size + TAG_BYTES
      ? existing
      : undefined;
  }

  private async verifyLeased(leased: UploadRecord, leaseEtag: string): Promise<SealOutcome> {
    let record = leased;
    let etag = leaseEtag;
    const pendingKey = verifyingKeyOf(record.id);
    let object: { etag: string };
    try {
      const copied = await this.copiedBy(record, record.attempt?.nonce);
      if (copied) object = copied;
      else {
        const stored = await this.pending.head(pendingKey);
        // Gone without a copy of ours at the name: a write there won after an attempt's copy.
        if (!stored) throw new DomainError('PreconditionFailed', 'The pending object is gone.');
        await this.authenticate(record, pendingKey, stored);
        const nonce = randomBytes(16).toString('hex');
        record = withAttempt(record, nonce, record.instruction);
        etag = await this.records.write(record, etag);
        object = await this.vault.copy(pendingKey, record.key, {
          metadata: { ...stored.metadata, [EAAS_METADATA.sealNonce]: nonce },
          contentType: stored.contentType,
          sourceIfMatch: stored.etag,
          ...(record.replaces === null ? { ifNoneMatch: '*' as const } : { ifMatch: record.replaces }),
        });
      }
      await putInstructionFile(this.vault, record.key, record.instruction);
      await this.pending.delete(pendingKey);
    } catch (error) {
      return this.verifyFailed(record, etag, error);
    }
    await endSealed(this.records, this.options, this.now(), record, etag, object);
    return 'sealed';
  }

  /**
   * Authenticates the pending object whole (the version headed, If-Match) without releasing a
   * byte: header, data key from KMS, GCM tag and key commitment, and the plaintext length
   * announced. Any failure of the object itself is NotAuthenticError; the data key is zeroed.
   */
  private async authenticate(
    record: UploadRecord,
    pendingKey: string,
    stored: { etag: string; size: number; metadata: Record<string, string> },
  ): Promise<void> {
    if (stored.size !== record.size + TAG_BYTES || stored.metadata[EAAS_METADATA.uploadId] !== record.id)
      throw new NotAuthenticError();
    let header: ReturnType<typeof decodeHeader>;
    try {
      header = decodeHeader(stored.metadata, record.instruction);
    } catch (error) {
      if (error instanceof EnvelopeFormatError) throw new NotAuthenticError();
      throw error;
    }
    const { plaintext } = await this.keys.decrypt(header.wrappedKey, header.kmsContext, record.keyArn);
    const dataKey = Buffer.from(plaintext);
    plaintext.fill(0);
    try {
      const body = await this.pending.get(pendingKey, { ifMatch: stored.etag });
      // Zeroes its own copy of the key; the plaintext is discarded chunk by chunk.
      const length = await authenticate(header, Buffer.from(dataKey), body.body);
      if (length !== record.size) throw new NotAuthenticError();
    } catch (error) {
      if (error instanceof EnvelopeDecryptError) throw new NotAuthenticError();
      throw error;
    } finally {
      dataKey.fill(0);
    }
  }

  private async verifyFailed(record: UploadRecord, etag: string, error: unknown): Promise<SealOutcome> {
    if (error instanceof NotAuthenticError) {
      // The pending object goes with the failure (records.fail): nothing is listed or replaced.
      await this.records.fail(record, etag, 'VerifyFailed', NOT_AUTHENTIC);
      return 'failed';
    }
    if (isLostWrite(error)) return afterLostWrite(this.records, this.vault, record, etag);
    const next = afterSealFailure(record, error, false);
    if (next.kind === 'fail') {
      await this.records.fail(record, etag, 'SealFailed', next.message);
      return 'failed';
    }
    // Released for the next delivery or sweep (S3 or KMS throttled or unavailable).
    await this.release(record, etag);
    throw error;
  }

  private release(record: UploadRecord, etag: string): Promise<void> {
    return releaseUpload(this.records, record, etag);
  }
}
