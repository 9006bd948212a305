import { randomBytes } from 'node:crypto';
import { type EncryptionContext, normalisePrincipal } from '@eaas/aws-rules';
import { checkObjectContext, kmsContextFor, TAG_BYTES } from '../core/envelope/index.js';
import { DomainError, PayloadTooLargeError, ValidationError } from '../core/errors.js';
import { checkMediaType } from '../core/media-type.js';
import { nameInSpace, refuseSpaceName, spaceContext, spacePrefixOf } from '../core/spaces.js';
import {
  linkSeconds,
  planParts,
  stagingKeyOf,
  statusOf,
  type UploadRecord,
  type UploadStatus,
} from '../core/upload-record.js';
import {
  checkCancellable,
  checkCompletion,
  checkResumable,
  newUploadRecord,
} from '../core/upload-transitions.js';
import type { Keys, StagingArea } from '../ports.js';
import type { DocumentCaller, DocumentService } from './documents.js';
import { ClientSealedUploads, type VaultUploads } from './uploads/client-sealed.js';
import type { UploadOptions } from './uploads/options.js';
import { UploadRecords } from './uploads/records.js';
import { type SealOutcome, UploadSealer } from './uploads/seal.js';
import { type SweepResult, sweepUploads } from './uploads/sweep.js';
import { UploadVerifier } from './uploads/verify.js';

export type { UploadState, UploadStatus } from '../core/upload-record.js';
export { uploadIdOf } from '../core/upload-record.js';
export type { IssuedCipher, VaultUploads } from './uploads/client-sealed.js';
export type { UploadOptions } from './uploads/options.js';
export type { SealOutcome } from './uploads/seal.js';
export type { SweepResult } from './uploads/sweep.js';

/**
 * CopyObject copies an object of up to 5 GB in one request; larger ones take UploadPartCopy
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/copy-object.html).
 */
export const MAX_COPY_BYTES = 5 * 1024 ** 3;

/**
 * Uploads of any size: the browser PUTs the plaintext straight to a staging area through
 * presigned URLs that bind the size and expire soon; the seal (`uploads/seal.ts`) then streams it
 * through S3EC envelope encryption into the vault and deletes it; the sweep (`uploads/sweep.ts`)
 * finishes what a seal left and expires what nobody uploaded. Nothing else reads the staging area.
 *
 * Each upload has a record (`core/upload-record.ts`) that every step updates with a write
 * conditioned on the ETag it read (`uploads/records.ts`), so two seals, or a seal and a cancel,
 * never both win; the changes themselves are pure (`core/upload-transitions.ts`).
 */
export class UploadService {
  private readonly now: () => Date;
  private readonly records: UploadRecords;
  private readonly sealer: UploadSealer;
  private readonly clientSealed: ClientSealedUploads;

  constructor(
    keys: Keys,
    private readonly documents: DocumentService,
    private readonly staging: StagingArea,
    vault: VaultUploads,
    private readonly options: UploadOptions,
    /**
     * The vault's root (no object prefix), where verified uploads complete at a reserved pending
     * name and are copied from; the vault itself when it has no object prefix.
     */
    pending: VaultUploads = vault,
  ) {
    this.now = options.now ?? (() => new Date());
    this.records = new UploadRecords(staging, this.now, vault, pending);
    const verifier = new UploadVerifier(keys, this.records, vault, pending, options, this.now);
    this.sealer = new UploadSealer(keys, documents, this.records, vault, options, this.now, (id) =>
      verifier.verify(id),
    );
    this.clientSealed = new ClientSealedUploads(keys, this.records, vault, options, this.now, pending);
  }

  /**
   * The caller's own upload; anyone else's, or none, is NotFound (ids are not confirmed to others).
   * A person's uploads are its own: every person shares the identity pool's role, so the record
   * names the person too.
   */
  private async ownUpload(caller: DocumentCaller, id: string) {
    const found = await this.records.read(id);
    if (
      !found ||
      found.record.owner !== normalisePrincipal(caller.arn) ||
      found.record.person?.identityId !== caller.person?.identityId
    )
      throw new DomainError('NotFound', `No upload ${JSON.stringify(id)}.`);
    return found;
  }

  /** What the caller sees of its upload: a person's name relative to its space. */
  private statusFor(record: UploadRecord): UploadStatus {
    const status = statusOf(record);
    if (!record.person) return status;
    const prefix = spacePrefixOf(record.person);
    return {
      ...status,
      key: nameInSpace(record.person, status.key),
      ...(status.error
        ? { error: { ...status.error, message: status.error.message.replaceAll(prefix, '') } }
        : {}),
    };
  }

  /**
   * Starts an upload: checks the caller may encrypt under the key and context and, when the key
   * holds a document, may replace it (as for deleting it); answers the URLs.
   */
  async create(
    caller: DocumentCaller,
    input: {
      key: string;
      keyId: string;
      size: number;
      context?: EncryptionContext | undefined;
      contentType?: string | undefined;
      overwrite?: boolean | undefined;
      /** `client`: the uploader encrypts (it is handed the content key) and PUTs ciphertext to the vault. */
      sealedBy?: 'client' | 'service' | undefined;
      /** With `sealedBy: client`: the stored object is authenticated before it is listed. */
      verify?: boolean | undefined;
    },
  ) {
    if (input.verify === true && input.sealedBy !== 'client')
      throw new ValidationError(
        'verify: only an upload sealed by the client (sealedBy "client") is verified; the service authenticates what it seals itself.',
      );
    // The verified object is copied into place with CopyObject, which copies up to 5 GB.
    if (input.verify === true && Number.isSafeInteger(input.size) && input.size + TAG_BYTES > MAX_COPY_BYTES)
      throw new ValidationError(
        `verify: a verified upload is at most ${MAX_COPY_BYTES - TAG_BYTES} bytes (its object is copied into place in one CopyObject); upload this one without verify.`,
      );
    // A person's names are relative to its space, and its writes bound to it.
    const documents = this.documents.forCaller(caller);
    documents.checkNewKey(input.key);
    if (caller.person === undefined) refuseSpaceName(input.key);
    const context = spaceContext(caller.person, input.context);
    checkObjectContext(context);
    checkMediaType(input.contentType, 'contentType');
    if (!Number.isSafeInteger(input.size) || input.size < 0)
      throw new ValidationError('size is the number of bytes of the document, a whole number >= 0.');
    if (input.size > this.options.maxUploadBytes)
      throw new PayloadTooLargeError(
        `The document is ${input.size} bytes; uploads take up to ${this.options.maxUploadBytes}.`,
      );
    // Precondition: the caller may encrypt under the key with the whole context KMS will bind.
    const keyArn = await caller.guard(
      input.keyId,
      'kms:Encrypt',
      kmsContextFor(this.options.version, context),
    );
    const overwrite = input.overwrite ?? true;
    const replaced = await documents.replaceable(caller, input.key);
    if (replaced && !overwrite)
      throw new DomainError(
        'AlreadyExists',
        `An object ${JSON.stringify(input.key)} exists; overwrite is false.`,
      );
    const expiresIn = linkSeconds(this.options.urlSeconds, input.size);
    const record: UploadRecord = newUploadRecord({
      id: randomBytes(16).toString('hex'),
      key: caller.person ? `${spacePrefixOf(caller.person)}${input.key}` : input.key,
      keyArn,
      context,
      owner: normalisePrincipal(caller.arn),
      person: caller.person,
      size: input.size,
      contentType: input.contentType,
      overwrite,
      replaces: replaced?.etag ?? null,
      now: this.now(),
      expiresInSeconds: expiresIn,
    });
    if (input.sealedBy === 'client') {
      if (input.verify === true) record.verify = true;
      const started = await this.clientSealed.start(record, expiresIn);
      return {
        ...this.statusFor(started.record),
        sealedBy: 'client' as const,
        method: 'multipart' as const,
        partSize: started.partSize,
        parts: started.parts,
        cipher: started.cipher,
        ...(record.verify ? { verify: true as const } : {}),
      };
    }
    const staged = stagingKeyOf(record.id);
    if (record.method === 'PUT') {
      // If-None-Match: * is signed in: the link writes the staging object once, never over it.
      const url = await this.staging.presignPut(staged, input.size, expiresIn, { ifNoneMatch: true });
      await this.records.create(record);
      return { ...this.statusFor(record), method: 'PUT' as const, url, headers: { 'If-None-Match': '*' } };
    }
    const { partSize, sizes } = planParts(input.size);
    const multipartId = await this.staging.startMultipart(staged);
    record.multipartId = multipartId;
    record.partSize = partSize;
    const parts = await Promise.all(
      sizes.map(async (size, i) => ({
        partNumber: i + 1,
        size,
        url: await this.staging.presignPart(staged, multipartId, i + 1, size, expiresIn),
      })),
    );
    await this.records.create(record);
    return { ...this.statusFor(record), method: 'multipart' as const, partSize, parts };
  }

  async status(caller: DocumentCaller, id: string): Promise<UploadStatus> {
    const found = await this.ownUpload(caller, id);
    const expired = await this.records.expireIfAbandoned(found.record, found.etag);
    return this.statusFor(expired ?? found.record);
  }

  /** The record marked `completing`, written only over the version read (its new ETag). */
  private async markCompleting(record: UploadRecord, etag: string): Promise<string> {
    try {
      return await this.records.write({ ...record, completing: true }, etag);
    } catch (error) {
      if (error instanceof DomainError && error.code === 'PreconditionFailed')
        throw new DomainError('InvalidState', 'The upload changed meanwhile; look at it again.');
      throw error;
    }
  }

  /** Completes a multipart upload from the parts the uploader sent; the seal follows. */
  async complete(
    caller: DocumentCaller,
    id: string,
    parts: { partNumber: number; etag: string }[],
  ): Promise<UploadStatus> {
    const { record, etag } = await this.ownUpload(caller, id);
    if (record.sealedBy === 'client') return this.completeClientSealed(record, etag, parts);
    checkCompletion(
      record,
      parts.map((p) => p.partNumber),
      this.now(),
    );
    // Marked first (conditionally), so that a look at the upload while S3 assembles it never expires it.
    const marked = await this.markCompleting(record, etag);
    try {
      await this.staging.completeMultipart(
        stagingKeyOf(id),
        record.multipartId,
        [...parts].sort((a, b) => a.partNumber - b.partNumber),
      );
    } catch (error) {
      // Not completed (wrong parts): the mark goes, so that the upload can still expire.
      await this.records.write(record, marked).catch(() => undefined);
      throw error;
    }
    return this.statusFor(record);
  }

  /** Completes a client-sealed upload: S3 assembles the ciphertext in the vault; no seal follows. */
  private async completeClientSealed(
    record: UploadRecord,
    etag: string,
    parts: { partNumber: number; etag: string }[],
  ): Promise<UploadStatus> {
    checkCompletion(
      record,
      parts.map((p) => p.partNumber),
      this.now(),
    );
    // Marked first (conditionally): one completion at a time, and none expired or cancelled meanwhile.
    const marked = await this.markCompleting(record, etag);
    const completing = { ...record, completing: true };
    try {
      return this.statusFor((await this.clientSealed.complete(completing, marked, parts)).record);
    } catch (error) {
      const current = await this.records.read(record.id).catch(() => undefined);
      if (current?.etag !== marked || current.record.state !== 'pending') throw error;
      // S3 may have assembled the object before the failure (recording it, or writing its
      // instruction file, failed; or S3's answer was lost): then the upload is finished, never
      // left to be cancelled or expired over the document it wrote.
      let finished: Awaited<ReturnType<ClientSealedUploads['finishIfWritten']>>;
      try {
        finished = await this.clientSealed.finishIfWritten(completing, marked);
      } catch {
        // Unknown whether it was written: the mark stays, and the sweep decides after its grace.
        throw error;
      }
      if (finished) return this.statusFor(finished.record);
      // Not completed (wrong parts, S3 unavailable): the mark goes, so that it may be retried or expire.
      await this.records.write(record, marked).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Signs again the parts of a pending multipart upload (those asked for, else every part S3 does
   * not hold), with URLs valid until the upload's links expire; answers the parts S3 holds too, so
   * that an uploader that stopped half-way sends only the rest and completes.
   */
  async resume(caller: DocumentCaller, id: string, partNumbers?: number[]) {
    const { record } = await this.ownUpload(caller, id);
    const now = this.now();
    checkResumable(record, partNumbers, now);
    const staged = stagingKeyOf(id);
    let uploaded: { partNumber: number; etag: string; size: number }[];
    try {
      uploaded = await this.staging.listParts(staged, record.multipartId);
    } catch (error) {
      if (error instanceof DomainError && error.code === 'NotFound')
        throw new DomainError('UploadExpired', 'The parts of the upload are gone; start a new one.');
      throw error;
    }
    const held = new Set(uploaded.map((p) => p.partNumber));
    const { sizes } = planParts(record.size);
    const wanted = partNumbers ?? sizes.map((_s, i) => i + 1).filter((n) => !held.has(n));
    // Never past the upload's own expiry: whole seconds left, rounded down.
    const expiresIn = Math.floor((Date.parse(record.expiresAt) - now.getTime()) / 1000);
    if (expiresIn < 1) throw new DomainError('UploadExpired', 'The upload has expired; start a new one.');
    const parts = await Promise.all(
      [...wanted]
        .sort((a, b) => a - b)
        .map(async (partNumber) => {
          const size = sizes[partNumber - 1] ?? 0;
          const url = await this.staging.presignPart(staged, record.multipartId, partNumber, size, expiresIn);
          return { partNumber, size, url };
        }),
    );
    return { ...this.statusFor(record), partSize: record.partSize, parts, uploaded };
  }

  /** Cancels a pending upload: its staging data is removed and it ends failed/Cancelled. */
  async cancel(caller: DocumentCaller, id: string): Promise<UploadStatus> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const { record, etag } = await this.ownUpload(caller, id);
      if (record.state !== 'pending') return this.statusFor(record);
      checkCancellable(record, this.now());
      try {
        // A client-sealed upload whose object is already in place (its completion failed after S3
        // assembled it) is finished, not cancelled over the document it wrote.
        if (record.sealedBy === 'client') {
          const finished = await this.clientSealed.finishIfWritten(record, etag);
          if (finished) return this.statusFor(finished.record);
        }
        return this.statusFor(
          await this.records.fail(record, etag, 'Cancelled', 'The uploader cancelled the upload.'),
        );
      } catch (error) {
        if (!(error instanceof DomainError && error.code === 'PreconditionFailed')) throw error;
      }
    }
    throw new DomainError('InvalidState', 'The upload changed while cancelling; try again.');
  }

  /** Seals an uploaded staging object into the vault (idempotent): see `UploadSealer.seal`. */
  seal(id: string): Promise<SealOutcome> {
    return this.sealer.seal(id);
  }

  /** One pass over the pending uploads: see `sweepUploads`. */
  sweep(log?: (message: string, extra: Record<string, unknown>) => void): Promise<SweepResult> {
    return sweepUploads(
      {
        records: this.records,
        seal: (id) => this.sealer.seal(id),
        settle: (record, etag) => this.clientSealed.settle(record, etag),
        now: this.now,
      },
      log,
    );
  }
}
