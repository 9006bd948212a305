import { randomBytes } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type EncryptionContext, normalisePrincipal } from '@eaas/aws-rules';
import { z } from 'zod';
import {
  type EnvelopeVersion,
  INSTRUCTION_SUFFIX,
  kmsContextFor,
  TAG_BYTES,
} from '../core/envelope/index.js';
import { DomainError, PayloadTooLargeError, ValidationError } from '../core/errors.js';
import { checkMediaType } from '../core/media-type.js';
import type { Keys, LargeObjects, ObjectStore, StagingArea } from '../ports.js';
import {
  checkContext,
  type DocumentCaller,
  type DocumentService,
  destroyQuietly,
  EAAS_METADATA,
  INSTRUCTION_METADATA,
  newEnvelope,
} from './documents.js';

/** The metadata key naming the seal attempt that wrote a vault object. */
const SEAL_NONCE = 'eaas-seal';

/**
 * Uploads of any size: the browser PUTs the plaintext straight to a staging area through
 * presigned URLs that bind the size and expire soon; the seal then streams it through S3EC
 * envelope encryption into the vault and deletes it. Nothing else reads the staging area.
 *
 * Each upload has a record (`records/{id}.json` in the staging bucket) that every step updates
 * with a write conditioned on the ETag it read, so two seals, or a seal and a cancel, never both
 * win. A seal holds a lease while it works; one that dies leaves the lease to expire, the staging
 * object in place and at most an incomplete multipart upload in the vault, which S3 never shows;
 * the next delivery of the event, or the sweep, seals again from the start.
 */

/** At or below this size one presigned PUT; above it, a multipart upload with presigned parts. */
export const SINGLE_PUT_LIMIT = 16 * 1024 * 1024;
/** Parts of at least 8 MiB, at most 1,000 of them (larger parts for larger files). */
export const MIN_PART_BYTES = 8 * 1024 * 1024;
export const MAX_PARTS = 1000;
const MiB = 1024 * 1024;

export type UploadState = 'pending' | 'sealed' | 'failed';
export type UploadErrorCode =
  | 'Expired'
  | 'TooLarge'
  | 'SizeMismatch'
  | 'Cancelled'
  | 'Conflict'
  | 'SealFailed';

const recordSchema = z.object({
  v: z.literal(1),
  id: z.string(),
  key: z.string(),
  keyArn: z.string(),
  context: z.record(z.string(), z.string()),
  owner: z.string(),
  size: z.number().int().min(0),
  contentType: z.string().optional(),
  overwrite: z.boolean(),
  method: z.enum(['PUT', 'multipart']),
  multipartId: z.string().optional(),
  partSize: z.number().int().optional(),
  createdAt: z.string(),
  expiresAt: z.string(),
  state: z.enum(['pending', 'sealed', 'failed']),
  /** The ETag of the object the upload replaces (its owner was allowed to), or null: the key was free. */
  replaces: z.string().nullable(),
  /** Set by the completion before S3 assembles the parts: an upload completing is never expired. */
  completing: z.boolean().optional(),
  /** Set while a seal works on it; another may take over once it has passed. */
  leaseUntil: z.string().optional(),
  /**
   * The seal attempt writing the vault object: its nonce (also in the object's metadata) and the
   * instruction file it needs, kept here first so that an attempt killed between the object and
   * its instruction file is finished by the next, not started again.
   */
  attempt: z.object({ nonce: z.string(), instruction: z.string().optional() }).optional(),
  attempts: z.number().int().min(0),
  sealedAt: z.string().optional(),
  object: z.object({ etag: z.string(), format: z.enum(['s3ec-v2', 's3ec-v3']) }).optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
type UploadRecord = z.infer<typeof recordSchema>;

/** What callers see of an upload: never a secret, never a URL. */
export interface UploadStatus {
  id: string;
  key: string;
  keyId: string;
  state: UploadState;
  size: number;
  createdAt: string;
  expiresAt: string;
  sealedAt?: string | undefined;
  object?: { etag: string; format: 's3ec-v2' | 's3ec-v3' } | undefined;
  error?: { code: string; message: string } | undefined;
}

export interface UploadOptions {
  version: EnvelopeVersion;
  /** Lifetime of the presigned URLs, in seconds, for the smallest uploads; larger get more (`linkSeconds`). */
  urlSeconds: number;
  maxUploadBytes: number;
  /** How long a seal holds an upload, in seconds. */
  leaseSeconds: number;
  /**
   * Checks, when the seal runs, that the upload's owner may still encrypt under its key and
   * context (a grant revoked since the upload began stops it); throws AccessDenied otherwise.
   */
  authorizeOwner?: (owner: string, keyArn: string, context: EncryptionContext) => Promise<void>;
  now?: () => Date;
}

/**
 * How long the links of an upload of `size` bytes live: the configured time, plus a second per
 * MiB (a slow line still finishes a large file), 12 hours at most.
 */
export function linkSeconds(urlSeconds: number, size: number): number {
  return Math.min(12 * 3600, urlSeconds + Math.floor(size / MiB));
}

/** How a seal ended: `busy` when another seal holds the upload, `absent` when there is nothing to seal. */
export type SealOutcome = 'sealed' | 'failed' | 'busy' | 'absent';

const ID_PATTERN = /^[0-9a-f]{32}$/;
const stagingKey = (id: string) => `incoming/${id}`;
const recordKey = (id: string) => `records/${id}.json`;
/** An empty marker per pending upload: the sweep lists these, not every record kept for 30 days. */
const pendingKey = (id: string) => `pending/${id}`;

/** An upload id from a staging key (`incoming/{id}`), or undefined for anything else. */
export function uploadIdOf(stagingObjectKey: string): string | undefined {
  const match = /^incoming\/([0-9a-f]{32})$/.exec(stagingObjectKey);
  return match?.[1];
}

/** The parts of a multipart upload of `size` bytes: 8 MiB or more each, whole MiB, at most MAX_PARTS. */
export function planParts(size: number): { partSize: number; sizes: number[] } {
  const partSize = Math.max(MIN_PART_BYTES, Math.ceil(size / MAX_PARTS / MiB) * MiB);
  const sizes: number[] = [];
  for (let offset = 0; offset < size; offset += partSize) sizes.push(Math.min(partSize, size - offset));
  return { partSize, sizes };
}

/** Seals tried this many times (each after a transient failure) end failed. */
export const MAX_SEAL_ATTEMPTS = 5;

/** The staging object changed or went while the seal read it: seal again from a fresh look. */
class StagingChanged extends Error {}

/** Passes exactly `size` bytes on; more, or fewer by the end, fails the stream (and so the upload). */
class ExactLength extends Transform {
  private seen = 0;
  constructor(private readonly size: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.size) done(new StagingChanged('The staging object is longer than recorded.'));
    else done(null, chunk);
  }
  override _flush(done: TransformCallback): void {
    done(this.seen === this.size ? null : new StagingChanged('The staging object ended early.'));
  }
}

/**
 * Failures a retry cannot mend: the key refused, disabled, gone, or the request invalid. Anything
 * else (S3 or KMS unavailable or throttled, a connection cut mid-stream) is tried again.
 */
function permanent(error: unknown): boolean {
  return (
    error instanceof DomainError &&
    [
      'AccessDenied',
      'KeyDisabled',
      'KeyPendingDeletion',
      'KeyNotFound',
      'InvalidKeyUsage',
      'ValidationError',
    ].includes(error.code)
  );
}

export class UploadService {
  private readonly now: () => Date;

  constructor(
    private readonly keys: Keys,
    private readonly documents: DocumentService,
    private readonly staging: StagingArea,
    private readonly vault: ObjectStore & LargeObjects,
    private readonly options: UploadOptions,
  ) {
    this.now = options.now ?? (() => new Date());
  }

  private async read(id: string): Promise<{ record: UploadRecord; etag: string } | undefined> {
    if (!ID_PATTERN.test(id)) return undefined;
    let object: Awaited<ReturnType<ObjectStore['get']>>;
    try {
      object = await this.staging.get(recordKey(id));
    } catch (error) {
      if (error instanceof DomainError && error.code === 'NotFound') return undefined;
      throw error;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of object.body as AsyncIterable<Buffer>) chunks.push(chunk);
    const parsed = recordSchema.safeParse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    if (!parsed.success) throw new DomainError('InternalError', `The record of upload ${id} is damaged.`);
    return { record: parsed.data, etag: object.etag };
  }

  /** Writes a record only if it is still the version read (`etag`), or new (`undefined`). */
  private async write(record: UploadRecord, etag: string | undefined): Promise<string> {
    const body = Buffer.from(JSON.stringify(record));
    const out = await this.staging.put(recordKey(record.id), body, {
      metadata: {},
      contentType: 'application/json',
      contentLength: body.length,
      ...(etag === undefined ? { ifNoneMatch: '*' as const } : { ifMatch: etag }),
    });
    return out.etag;
  }

  private statusOf(record: UploadRecord): UploadStatus {
    return {
      id: record.id,
      key: record.key,
      keyId: record.keyArn,
      state: record.state,
      size: record.size,
      createdAt: record.createdAt,
      expiresAt: record.expiresAt,
      ...(record.sealedAt ? { sealedAt: record.sealedAt } : {}),
      ...(record.object ? { object: record.object } : {}),
      ...(record.error ? { error: record.error } : {}),
    };
  }

  /** The caller's own upload; anyone else's, or none, is NotFound (ids are not confirmed to others). */
  private async ownUpload(caller: DocumentCaller, id: string) {
    const found = await this.read(id);
    if (!found || found.record.owner !== normalisePrincipal(caller.arn))
      throw new DomainError('NotFound', `No upload ${JSON.stringify(id)}.`);
    return found;
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
    },
  ) {
    this.documents.checkNewKey(input.key);
    checkContext(input.context);
    checkMediaType(input.contentType, 'contentType');
    if (!Number.isSafeInteger(input.size) || input.size < 0)
      throw new ValidationError('size is the number of bytes of the document, a whole number >= 0.');
    if (input.size > this.options.maxUploadBytes)
      throw new PayloadTooLargeError(
        `The document is ${input.size} bytes; uploads take up to ${this.options.maxUploadBytes}.`,
      );
    const context = input.context ?? {};
    // Precondition: the caller may encrypt under the key with the whole context KMS will bind.
    const keyArn = await caller.guard(
      input.keyId,
      'kms:Encrypt',
      kmsContextFor(this.options.version, context),
    );
    const overwrite = input.overwrite ?? true;
    const replaced = await this.documents.replaceable(caller, input.key);
    if (replaced && !overwrite)
      throw new DomainError(
        'AlreadyExists',
        `An object ${JSON.stringify(input.key)} exists; overwrite is false.`,
      );
    const id = randomBytes(16).toString('hex');
    const now = this.now();
    const expiresIn = linkSeconds(this.options.urlSeconds, input.size);
    const record: UploadRecord = {
      v: 1,
      id,
      key: input.key,
      keyArn,
      context,
      owner: normalisePrincipal(caller.arn),
      size: input.size,
      ...(input.contentType ? { contentType: input.contentType } : {}),
      overwrite,
      replaces: replaced?.etag ?? null,
      method: input.size > SINGLE_PUT_LIMIT ? 'multipart' : 'PUT',
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + expiresIn * 1000).toISOString(),
      state: 'pending',
      attempts: 0,
    };
    const created = async () => {
      await this.write(record, undefined);
      await this.staging.put(pendingKey(id), Buffer.alloc(0), { metadata: {}, contentLength: 0 });
    };
    if (record.method === 'PUT') {
      // If-None-Match: * is signed in: the link writes the staging object once, never over it.
      const url = await this.staging.presignPut(stagingKey(id), input.size, expiresIn, { ifNoneMatch: true });
      await created();
      return { ...this.statusOf(record), method: 'PUT' as const, url, headers: { 'If-None-Match': '*' } };
    }
    const { partSize, sizes } = planParts(input.size);
    record.multipartId = await this.staging.startMultipart(stagingKey(id));
    record.partSize = partSize;
    const multipartId = record.multipartId;
    const parts = await Promise.all(
      sizes.map(async (size, i) => ({
        partNumber: i + 1,
        size,
        url: await this.staging.presignPart(stagingKey(id), multipartId, i + 1, size, expiresIn),
      })),
    );
    await created();
    return { ...this.statusOf(record), method: 'multipart' as const, partSize, parts };
  }

  async status(caller: DocumentCaller, id: string): Promise<UploadStatus> {
    const found = await this.ownUpload(caller, id);
    const expired = await this.expireIfAbandoned(found.record, found.etag);
    return this.statusOf(expired ?? found.record);
  }

  /** Completes a multipart upload from the parts the uploader sent; the seal follows. */
  async complete(
    caller: DocumentCaller,
    id: string,
    parts: { partNumber: number; etag: string }[],
  ): Promise<UploadStatus> {
    const { record, etag } = await this.ownUpload(caller, id);
    if (record.method !== 'multipart' || record.multipartId === undefined)
      throw new DomainError('InvalidState', 'This upload is a single PUT: there is nothing to complete.');
    if (record.state !== 'pending')
      throw new DomainError('InvalidState', `The upload is already ${record.state}.`);
    if (this.now().getTime() > Date.parse(record.expiresAt))
      throw new DomainError('UploadExpired', `The upload expired at ${record.expiresAt}; start a new one.`);
    const expected = planParts(record.size).sizes.length;
    const numbers = parts.map((p) => p.partNumber).sort((a, b) => a - b);
    if (numbers.length !== expected || numbers.some((n, i) => n !== i + 1))
      throw new ValidationError(`parts must list each of the ${expected} parts 1-${expected} once.`);
    // Marked first (conditionally), so that a look at the upload while S3 assembles it never expires it.
    let marked: string;
    try {
      marked = await this.write({ ...record, completing: true }, etag);
    } catch (error) {
      if (error instanceof DomainError && error.code === 'PreconditionFailed')
        throw new DomainError('InvalidState', 'The upload changed meanwhile; look at it again.');
      throw error;
    }
    try {
      await this.staging.completeMultipart(
        stagingKey(id),
        record.multipartId,
        [...parts].sort((a, b) => a.partNumber - b.partNumber),
      );
    } catch (error) {
      // Not completed (wrong parts): the mark goes, so that the upload can still expire.
      await this.write(record, marked).catch(() => undefined);
      throw error;
    }
    return this.statusOf(record);
  }

  /** Cancels a pending upload: its staging data is removed and it ends failed/Cancelled. */
  async cancel(caller: DocumentCaller, id: string): Promise<UploadStatus> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const { record, etag } = await this.ownUpload(caller, id);
      if (record.state !== 'pending') return this.statusOf(record);
      if (record.leaseUntil && Date.parse(record.leaseUntil) > this.now().getTime())
        throw new DomainError('InvalidState', 'The upload is being sealed; it can no longer be cancelled.');
      try {
        const failed = await this.fail(record, etag, 'Cancelled', 'The uploader cancelled the upload.');
        return this.statusOf(failed);
      } catch (error) {
        if (!(error instanceof DomainError && error.code === 'PreconditionFailed')) throw error;
      }
    }
    throw new DomainError('InvalidState', 'The upload changed while cancelling; try again.');
  }

  /** Ends an upload failed, then removes its staging data (the record first: it is the truth). */
  private async fail(record: UploadRecord, etag: string, code: UploadErrorCode, message: string) {
    const failed: UploadRecord = { ...record, state: 'failed', error: { code, message } };
    delete failed.leaseUntil;
    delete failed.attempt;
    await this.write(failed, etag);
    if (record.multipartId !== undefined)
      await this.staging.abortMultipart(stagingKey(record.id), record.multipartId);
    await this.staging.delete(stagingKey(record.id));
    await this.staging.delete(pendingKey(record.id));
    return failed;
  }

  /** A pending upload whose URLs expired with nothing uploaded (and nothing completing) ends failed/Expired. */
  private async expireIfAbandoned(record: UploadRecord, etag: string): Promise<UploadRecord | undefined> {
    if (
      record.state !== 'pending' ||
      record.completing ||
      this.now().getTime() <= Date.parse(record.expiresAt)
    )
      return undefined;
    if (await this.staging.exists(stagingKey(record.id))) return undefined;
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

  /**
   * Seals an uploaded staging object into the vault; idempotent: a sealed or failed upload is
   * only cleaned up, one another seal holds is left alone. Transient failures (S3, KMS) release
   * the lease and are thrown, so that the event is delivered again; permanent ones (the key
   * disabled or refused, the object replaced meanwhile, the size wrong) end the upload failed.
   */
  async seal(id: string): Promise<SealOutcome> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const found = await this.read(id);
      if (!found) {
        // A staging object no upload accounts for is never sealed, only removed.
        if (ID_PATTERN.test(id)) await this.staging.delete(stagingKey(id));
        return 'absent';
      }
      const { record, etag } = found;
      if (record.state !== 'pending') {
        await this.staging.delete(stagingKey(id));
        return record.state;
      }
      const now = this.now();
      if (record.leaseUntil && Date.parse(record.leaseUntil) > now.getTime()) return 'busy';
      const staged = await this.staging.head(stagingKey(id));
      if (!staged) return 'absent';
      if (staged.size !== record.size) {
        const code = staged.size > record.size ? 'TooLarge' : 'SizeMismatch';
        await this.fail(
          record,
          etag,
          code,
          `The upload is ${staged.size} bytes, not the ${record.size} announced.`,
        );
        return 'failed';
      }
      const leased: UploadRecord = {
        ...record,
        leaseUntil: new Date(now.getTime() + this.options.leaseSeconds * 1000).toISOString(),
        attempts: record.attempts + 1,
      };
      let leaseEtag: string;
      try {
        leaseEtag = await this.write(leased, etag);
      } catch (error) {
        if (error instanceof DomainError && error.code === 'PreconditionFailed') continue;
        throw error;
      }
      return this.sealLeased(leased, leaseEtag, staged.etag);
    }
    return 'busy';
  }

  /** The vault object at the upload's key when the given seal attempt wrote it whole. */
  private async writtenBy(record: UploadRecord, nonce: string | undefined) {
    if (nonce === undefined) return undefined;
    const existing = await this.vault.head(record.key);
    return existing?.metadata[SEAL_NONCE] === nonce && existing.size === record.size + TAG_BYTES
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
        checkContext(record.context);
        await this.options.authorizeOwner?.(
          record.owner,
          record.keyArn,
          kmsContextFor(this.options.version, record.context),
        );
        const attempt = randomBytes(16).toString('hex');
        const sealed = await newEnvelope(this.keys, {
          version: this.options.version,
          keyArn: record.keyArn,
          userContext: record.context,
          plaintextLength: record.size,
          ours: {
            [EAAS_METADATA.owner]: record.owner,
            [EAAS_METADATA.created]: this.now().toISOString(),
            [EAAS_METADATA.uploadId]: record.id,
            [SEAL_NONCE]: attempt,
          },
        });
        record = {
          ...record,
          attempt: {
            nonce: attempt,
            ...(sealed.instruction !== undefined ? { instruction: sealed.instruction } : {}),
          },
        };
        etag = await this.write(record, etag);
        object = await this.writeVaultObject(record, stagedEtag, sealed.stream, sealed.metadata);
      }
      if (record.attempt?.instruction !== undefined)
        await this.vault.put(`${record.key}${INSTRUCTION_SUFFIX}`, Buffer.from(record.attempt.instruction), {
          metadata: { ...INSTRUCTION_METADATA },
          contentType: 'application/json',
        });
    } catch (error) {
      return this.sealFailed(record, etag, error);
    }
    const sealed: UploadRecord = {
      ...record,
      state: 'sealed',
      sealedAt: this.now().toISOString(),
      object: { etag: object.etag, format: `s3ec-${this.options.version}` },
    };
    delete sealed.leaseUntil;
    delete sealed.attempt;
    delete sealed.error;
    await this.write(sealed, etag);
    await this.staging.delete(stagingKey(record.id));
    await this.staging.delete(pendingKey(record.id));
    return 'sealed';
  }

  private async sealFailed(record: UploadRecord, etag: string, error: unknown): Promise<SealOutcome> {
    if (error instanceof DomainError && error.code === 'PreconditionFailed') {
      // Our own record moved on (another seal took over, or a cancel): that one decides.
      const current = await this.read(record.id);
      if (current?.etag !== etag) return 'busy';
      // The key was written meanwhile (the vault's condition failed): by another attempt of this
      // upload, or by another writer, whose document is left untouched.
      const existing = await this.vault.head(record.key);
      if (existing?.metadata[EAAS_METADATA.uploadId] === record.id) {
        // Written by an attempt of this upload that outlived its lease: the next attempt replaces it.
        await this.release({ ...record, replaces: existing.etag }, etag);
        return 'busy';
      }
      await this.fail(
        record,
        etag,
        'Conflict',
        `The object ${JSON.stringify(record.key)} was written meanwhile.`,
      );
      return 'failed';
    }
    if (error instanceof StagingChanged || permanent(error) || record.attempts >= MAX_SEAL_ATTEMPTS) {
      if (error instanceof StagingChanged && record.attempts < MAX_SEAL_ATTEMPTS) {
        // Read again from a fresh look at the staging object, at once or on the next delivery.
        await this.release(record, etag);
        return 'busy';
      }
      const message =
        error instanceof DomainError && permanent(error)
          ? error.message
          : `The document could not be sealed into the vault after ${record.attempts} attempts.`;
      // An object this upload wrote but could not finish (its instruction file) is removed: the
      // upload ends failed, and no half-written document stays at its key.
      if (await this.writtenBy(record, record.attempt?.nonce))
        await this.documents.removeUnreadable(record.key);
      await this.fail(record, etag, 'SealFailed', message);
      return 'failed';
    }
    // Released for the next delivery or sweep; if the write loses a race, the lease just expires.
    await this.release(record, etag);
    throw error;
  }

  private async release(record: UploadRecord, etag: string): Promise<void> {
    const released: UploadRecord = { ...record };
    delete released.leaseUntil;
    await this.write(released, etag).catch(() => undefined);
  }

  /**
   * Streams the staging object (the version the seal checked, exactly its recorded size) through
   * the sealing transform into the vault, replacing only what the upload may replace.
   */
  private async writeVaultObject(
    record: UploadRecord,
    stagedEtag: string,
    seal: Transform,
    metadata: Record<string, string>,
  ): Promise<{ etag: string }> {
    let source: Awaited<ReturnType<ObjectStore['get']>>;
    try {
      source = await this.staging.get(stagingKey(record.id), { ifMatch: stagedEtag });
    } catch (error) {
      seal.destroy();
      if (error instanceof DomainError && (error.code === 'PreconditionFailed' || error.code === 'NotFound'))
        throw new StagingChanged('The staging object changed before the seal read it.');
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
      const out = await this.vault.putStream(record.key, seal, {
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

  /**
   * One pass over the pending uploads (their `pending/` markers): seals those whose staging object
   * is there and whose seal died (lease expired), and ends failed those whose links expired with
   * nothing uploaded. Run on a schedule; answers what it did.
   */
  async sweep(
    log: (message: string, extra: Record<string, unknown>) => void = () => undefined,
  ): Promise<{ sealed: number; expired: number; failed: number }> {
    const done = { sealed: 0, expired: 0, failed: 0 };
    let nextToken: string | undefined;
    do {
      const page = await this.staging.list('pending/', 100, nextToken);
      for (const item of page.items) {
        const id = /^pending\/([0-9a-f]{32})$/.exec(item.key)?.[1];
        if (!id) continue;
        try {
          const found = await this.read(id);
          if (found?.record.state !== 'pending') {
            await this.staging.delete(pendingKey(id));
            continue;
          }
          if (await this.expireIfAbandoned(found.record, found.etag)) {
            done.expired++;
            continue;
          }
          if (!(await this.staging.exists(stagingKey(id)))) continue;
          const outcome = await this.seal(id);
          if (outcome === 'sealed') done.sealed++;
          if (outcome === 'failed') done.failed++;
        } catch (error) {
          done.failed++;
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
}
