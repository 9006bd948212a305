import { Readable, type Transform } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { contextProblems, type EncryptionContext, normalisePrincipal } from '@eaas/aws-rules';
import {
  authenticate,
  contentCipherOf,
  decodeHeader,
  EnvelopeDecryptError,
  EnvelopeFormatError,
  type EnvelopeHeader,
  type EnvelopeVersion,
  encodeHeader,
  headerLocation,
  INSTRUCTION_SUFFIX,
  kmsContextFor,
  metadataBytes,
  opener,
  S3EC_RESERVED_CONTEXT_KEYS,
  sealer,
  TAG_BYTES,
  userContextOf,
} from '../core/envelope/index.js';
import {
  DomainError,
  InvalidCiphertextError,
  PayloadTooLargeError,
  ValidationError,
} from '../core/errors.js';
import { checkMediaType, DEFAULT_MEDIA_TYPE, isMediaType } from '../core/media-type.js';
import { isDocumentKey, RESERVED_PREFIXES, reservedPrefixOf } from '../core/reserved-keys.js';
import type { Keys, LargeObjects, ObjectStore, StoredObjectInfo } from '../ports.js';
import { INLINE_LIMIT, type KeyGuard } from './crypto.js';

/**
 * Documents stored in S3 in the S3 Encryption Client format: each object envelope-encrypted under
 * its own data key (KMS GenerateDataKey with the object's encryption context), the wrapped key and
 * the format's header in the object metadata, so that AWS's own S3 Encryption Clients read them.
 *
 * Reads through this service release plaintext only once the whole object has been
 * authenticated: objects up to `INLINE_LIMIT` are opened in memory; larger ones are read by
 * `openAuthenticated`, which makes a first pass that only checks the tag and then streams the
 * same version (pinned by its ETag) a second time.
 */

/** S3 allows 2 KB of user metadata; a header that does not fit goes to an instruction file. */
export const METADATA_LIMIT_BYTES = 2048;
/** S3's longest key, in UTF-8 bytes, the store's prefix included. */
export const S3_KEY_LIMIT_BYTES = 1024;

/** This service's own metadata beside the S3EC keys: never a secret. */
export const EAAS_METADATA = {
  owner: 'eaas-owner',
  keyArn: 'eaas-key-arn',
  created: 'eaas-created',
  contentType: 'eaas-content-type',
  /** When the data key was last wrapped (ISO time): re-encryption jobs compare it with the key's last rotation. */
  wrappedAt: 'eaas-wrapped-at',
  /** The upload that wrote the object, for objects sealed from an upload (makes the seal idempotent). */
  uploadId: 'eaas-upload-id',
} as const;

export interface DocumentCaller {
  /** The caller's ARN as authenticated. */
  arn: string;
  /** Decides the caller's right to an action on a key (throws AccessDenied); answers the key ARN. */
  guard: KeyGuard;
}

export interface ObjectView {
  key: string;
  format: 's3ec-v2' | 's3ec-v3';
  keyId?: string | undefined;
  size: number;
  storedSize: number;
  context: EncryptionContext;
  owner?: string | undefined;
  contentType?: string | undefined;
  createdAt?: string | undefined;
  lastModified: string;
  etag: string;
  instructionFile: boolean;
}

/** Whether a key holds a control character (U+0000-U+001F, U+007F). */
const hasControl = (key: string): boolean => {
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
};

/** Precondition of every object route: a key S3 stores and this service may own. */
export function checkObjectKey(key: string): void {
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes === 0 || bytes > 1024) throw new ValidationError('An object key is 1 to 1024 bytes of UTF-8.');
  if (hasControl(key)) throw new ValidationError('An object key may not contain control characters.');
  if (key.endsWith(INSTRUCTION_SUFFIX))
    throw new ValidationError(
      `Object keys ending in ${INSTRUCTION_SUFFIX} are reserved for instruction files.`,
    );
  if (/(?:^|\/)\.\.?(?:\/|$)/.test(key))
    throw new ValidationError('An object key may not contain . or .. segments.');
  // The service keeps its own records under these prefixes at the root of the vault.
  const reserved = reservedPrefixOf(key);
  if (reserved !== undefined)
    throw new ValidationError(
      `Object keys starting with ${reserved} are reserved for ${RESERVED_PREFIXES[reserved]}.`,
    );
}

/**
 * S3 metadata is ASCII: a context must be too, besides the usual rules. The keys the S3
 * Encryption Client reserves are refused (any case): an AWS client ignores them when it compares
 * contexts, so a document could not be read with the context it was written with.
 */
export function checkContext(context: EncryptionContext | undefined): void {
  if (!context) return;
  const problems = contextProblems(context, 'context');
  for (const k of Object.keys(context))
    if (
      S3EC_RESERVED_CONTEXT_KEYS.includes(k.toLowerCase()) &&
      !problems.some((p) => p.path === `context.${k}`)
    )
      problems.push({
        path: `context.${k}`,
        message: `the keys ${S3EC_RESERVED_CONTEXT_KEYS.join(' and ')} are reserved by the S3 Encryption Client`,
      });
  if (problems.length > 0)
    throw new ValidationError(
      `Invalid encryption context: ${problems[0]?.path} ${problems[0]?.message}.`,
      problems,
    );
  for (const [k, v] of Object.entries(context))
    if (!/^[\x20-\x7e]*$/.test(k) || !/^[\x20-\x7e]*$/.test(v))
      throw new ValidationError(
        'An object encryption context is printable ASCII only (S3 metadata is ASCII).',
      );
}

/**
 * A fresh data key for one object (never shared: KMS GenerateDataKey under the object's context)
 * and what writing the object needs: the transform that seals its body, its metadata (the S3EC
 * header and this service's own keys) and, when the header does not fit in S3's 2 KB of
 * metadata, the instruction file to write first. The plaintext data key is zeroed by the sealer.
 */
export async function newEnvelope(
  keys: Keys,
  input: {
    version: EnvelopeVersion;
    keyArn: string;
    userContext: EncryptionContext;
    plaintextLength: number;
    /** This service's own metadata keys (owner, times, upload id). */
    ours: Record<string, string>;
  },
): Promise<{ keyArn: string; stream: Transform; metadata: Record<string, string>; instruction?: string }> {
  const kmsContext = kmsContextFor(input.version, input.userContext);
  const dataKey = await keys.generateDataKey({
    keyId: input.keyArn,
    context: kmsContext,
    numberOfBytes: 32,
    includePlaintext: true,
  });
  const plainKey = Buffer.from(dataKey.plaintext ?? new Uint8Array());
  dataKey.plaintext?.fill(0);
  const { header, stream } = sealer({
    version: input.version,
    dataKey: plainKey,
    wrappedKey: Buffer.from(dataKey.ciphertext),
    kmsContext,
    plaintextLength: input.plaintextLength,
  });
  const ours = {
    ...input.ours,
    [EAAS_METADATA.keyArn]: dataKey.keyArn,
    [EAAS_METADATA.wrappedAt]: new Date().toISOString(),
  };
  let encoded = encodeHeader(header);
  if (metadataBytes({ ...encoded.metadata, ...ours }) > METADATA_LIMIT_BYTES)
    encoded = encodeHeader(header, { instructionFile: true });
  return {
    keyArn: dataKey.keyArn,
    stream,
    metadata: { ...encoded.metadata, ...ours },
    ...(encoded.instruction !== undefined ? { instruction: encoded.instruction } : {}),
  };
}

/** The opening transform of an object; a header that does not open (commitment) is InvalidCiphertext. */
function openerOf(header: EnvelopeHeader, dataKey: Buffer): Transform {
  try {
    return opener(header, dataKey);
  } catch (error) {
    throw error instanceof EnvelopeDecryptError ? new InvalidCiphertextError({ cause: error }) : error;
  }
}

/** Releases a response body that will not be read to its end (its socket with it). */
export function destroyQuietly(body: NodeJS.ReadableStream): void {
  const stream = body as NodeJS.ReadableStream & { destroy?: () => void; readableEnded?: boolean };
  if (!stream.readableEnded) stream.destroy?.();
}

/** An object found, its header read, and the key ARN the caller was allowed to decrypt under (when recorded). */
interface FoundDocument {
  key: string;
  info: StoredObjectInfo;
  header: EnvelopeHeader;
  instruction: boolean;
  keyArn: string | undefined;
}

/** The one answer for a name that holds no document the caller may decrypt: as for a missing one. */
function notFound(key: string): DomainError {
  return new DomainError('NotFound', `No object ${JSON.stringify(key)}.`);
}

/** Refusals that say only that the caller may not use the key: hidden behind NotFound on reads. */
function hidden(error: unknown): boolean {
  return error instanceof DomainError && (error.code === 'AccessDenied' || error.code === 'KeyNotFound');
}

/** Failures of a dependency that a retry may mend: answered as they are, never as a verdict on the object. */
function transient(error: unknown): boolean {
  return error instanceof DomainError && (error.code === 'DependencyFailure' || error.code === 'Throttled');
}

/** Runs an access check whose refusal must not tell the caller that `key` holds a document. */
async function hideRefusal(key: string, check: () => Promise<unknown>): Promise<void> {
  try {
    await check();
  } catch (error) {
    throw hidden(error) ? notFound(key) : error;
  }
}

/** The instruction file's own metadata, as the S3 Encryption Clients write it. */
export const INSTRUCTION_METADATA = { 'x-amz-crypto-instr-file': '' } as const;

export class DocumentService {
  constructor(
    private readonly keys: Keys,
    private readonly store: ObjectStore & LargeObjects,
    private readonly options: {
      version: EnvelopeVersion;
      urlSeconds?: number;
      /** GET /v1/objects: stored objects one call examines at most (1000 by default). */
      listScanObjects?: number;
    } = { version: 'v3' },
  ) {}

  /** Whether `key` (a document's name, or its instruction file's) is an S3 key once the store's prefix is added. */
  private fits(key: string): boolean {
    return Buffer.byteLength(`${this.store.keyPrefix}${key}`, 'utf8') <= S3_KEY_LIMIT_BYTES;
  }

  /**
   * Precondition of every write (PUT, and uploads when they start and when they seal): a name that
   * can take its instruction file too, so that no header ever fails to find a place after the
   * object was written.
   */
  checkNewKey(key: string): void {
    checkObjectKey(key);
    if (!this.fits(`${key}${INSTRUCTION_SUFFIX}`)) {
      const most =
        S3_KEY_LIMIT_BYTES -
        Buffer.byteLength(this.store.keyPrefix, 'utf8') -
        Buffer.byteLength(INSTRUCTION_SUFFIX, 'utf8');
      throw new ValidationError(
        `An object key is at most ${most} bytes of UTF-8 here: S3 keys are at most ${S3_KEY_LIMIT_BYTES} bytes, and the key must leave room for the store's prefix and for ${INSTRUCTION_SUFFIX}.`,
        [{ path: 'key', message: `at most ${most} bytes` }],
      );
    }
  }

  /** Envelope-encrypts a body of up to INLINE_LIMIT bytes into the vault under `key`. */
  async put(
    caller: DocumentCaller,
    key: string,
    plaintext: Uint8Array,
    input: {
      keyId: string;
      context?: EncryptionContext | undefined;
      contentType?: string | undefined;
      overwrite?: boolean;
    },
  ) {
    this.checkNewKey(key);
    checkContext(input.context);
    checkMediaType(input.contentType, 'Content-Type');
    if (plaintext.byteLength > INLINE_LIMIT)
      throw new PayloadTooLargeError(
        `The body is ${plaintext.byteLength} bytes; PUT /v1/objects takes up to ${INLINE_LIMIT}. Upload larger documents with POST /v1/uploads.`,
      );
    const userContext = input.context ?? {};
    // Precondition: the caller may encrypt under the key with the whole context KMS will bind.
    const keyArn = await caller.guard(
      input.keyId,
      'kms:Encrypt',
      kmsContextFor(this.options.version, userContext),
    );
    const replaced = await this.replaceable(caller, key);
    if (replaced && input.overwrite === false)
      throw new DomainError(
        'PreconditionFailed',
        `An object ${JSON.stringify(key)} exists; overwrite is false.`,
      );
    const condition = replaced ? { ifMatch: replaced.etag } : { ifNoneMatch: '*' as const };
    const now = new Date().toISOString();
    const sealed = await newEnvelope(this.keys, {
      version: this.options.version,
      keyArn,
      userContext,
      plaintextLength: plaintext.byteLength,
      ours: { [EAAS_METADATA.owner]: normalisePrincipal(caller.arn), [EAAS_METADATA.created]: now },
    });
    const body = await buffer(Readable.from([plaintext]).pipe(sealed.stream));
    const { etag } = await this.store.put(key, body, {
      metadata: sealed.metadata,
      contentType: input.contentType ?? DEFAULT_MEDIA_TYPE,
      contentLength: body.length,
      ...condition,
    });
    // The instruction file after the object, whose write was conditional: a refused write never
    // touches the header of the object it would have replaced. If this second write fails, the
    // object, which nothing can read without it, is removed again: no half-written document stays.
    if (sealed.instruction !== undefined) await this.writeInstruction(key, sealed.instruction);
    return {
      key,
      keyId: sealed.keyArn,
      format: `s3ec-${this.options.version}` as const,
      size: plaintext.byteLength,
      etag,
    };
  }

  /** Writes an object's instruction file; on failure removes the object (and any stale instruction file) first. */
  private async writeInstruction(key: string, instruction: string): Promise<void> {
    try {
      await this.store.put(`${key}${INSTRUCTION_SUFFIX}`, Buffer.from(instruction), {
        metadata: { ...INSTRUCTION_METADATA },
        contentType: 'application/json',
      });
    } catch (error) {
      await this.removeUnreadable(key);
      throw error;
    }
  }

  /**
   * Removes an object whose header is gone (its instruction file failed to be written, or is
   * another object's), and its instruction file; best effort: whatever stays is never shown (reads
   * of an object without a readable header answer as for a missing one) and its owner may replace
   * or delete it.
   */
  async removeUnreadable(key: string): Promise<void> {
    await this.store.delete(key).catch(() => undefined);
    if (this.fits(`${key}${INSTRUCTION_SUFFIX}`))
      await this.store.delete(`${key}${INSTRUCTION_SUFFIX}`).catch(() => undefined);
  }

  /**
   * The object a write to `key` would replace, if any, once the caller is found allowed to replace
   * it: the same right as deleting it (encrypt under its key and whole stored context). Objects
   * this service did not write are never replaced through it; one whose header cannot be read
   * (left half-written) only by the principal who stored it. Undefined when the key is free.
   *
   * A name another principal holds is refused whether or not the caller may read that document:
   * the vault is one space of names, so the refusal tells the caller the name is taken (it names
   * neither the document's key nor its context).
   */
  async replaceable(caller: DocumentCaller, key: string): Promise<{ etag: string } | undefined> {
    const info = await this.store.head(key);
    if (!info) return undefined;
    const taken = () =>
      new DomainError(
        'AccessDenied',
        `The name ${JSON.stringify(key)} holds a document the caller may not replace.`,
      );
    const recorded = info.metadata[EAAS_METADATA.keyArn];
    if (!recorded) throw taken();
    let header: EnvelopeHeader;
    try {
      header = (await this.headerOf(key, info)).header;
    } catch (error) {
      if (!(error instanceof DomainError && error.code === 'InvalidCiphertext')) throw error;
      if (this.storedBy(caller, info)) return { etag: info.etag };
      throw taken();
    }
    try {
      await caller.guard(recorded, 'kms:Encrypt', header.kmsContext);
    } catch (error) {
      if (hidden(error)) throw taken();
      throw error;
    }
    return { etag: info.etag };
  }

  /** Whether the caller is the principal that stored the object (as this service recorded it). */
  private storedBy(caller: DocumentCaller, info: StoredObjectInfo): boolean {
    const owner = info.metadata[EAAS_METADATA.owner];
    return owner !== undefined && owner === normalisePrincipal(caller.arn);
  }

  private async headerOf(
    key: string,
    info: StoredObjectInfo,
  ): Promise<{ header: EnvelopeHeader; instruction: boolean }> {
    try {
      const where = headerLocation(info.metadata);
      if (where === 'metadata') return { header: decodeHeader(info.metadata), instruction: false };
      // A name too long to have an instruction file has none (S3 would refuse to look it up).
      const text = this.fits(`${key}${INSTRUCTION_SUFFIX}`)
        ? await this.store.getText(`${key}${INSTRUCTION_SUFFIX}`)
        : undefined;
      if (text === undefined)
        throw new EnvelopeFormatError('The object is not encrypted by an S3 Encryption Client.');
      return { header: decodeHeader(info.metadata, text), instruction: true };
    } catch (error) {
      if (error instanceof EnvelopeFormatError)
        throw new DomainError(
          'InvalidCiphertext',
          `The object ${key} is not a readable S3 Encryption Client object: ${error.message}`,
        );
      throw error;
    }
  }

  /** An object by name: NotFound when there is none, or when S3 could hold none by that name. */
  private async found(key: string): Promise<StoredObjectInfo> {
    checkObjectKey(key);
    const info = this.fits(key) ? await this.store.head(key) : undefined;
    if (!info) throw notFound(key);
    return info;
  }

  /**
   * The object and its header, for a caller allowed to decrypt it; anyone else, and everyone when
   * the header cannot be read (nobody can decrypt it), gets exactly the answer for a missing name.
   * With the key ARN this service records, the right is checked before KMS is asked anything.
   */
  private async readable(caller: DocumentCaller, key: string): Promise<FoundDocument> {
    const info = await this.found(key);
    let parsed: { header: EnvelopeHeader; instruction: boolean };
    try {
      parsed = await this.headerOf(key, info);
    } catch (error) {
      if (error instanceof DomainError && error.code === 'InvalidCiphertext') throw notFound(key);
      throw error;
    }
    const recorded = info.metadata[EAAS_METADATA.keyArn];
    let keyArn: string | undefined;
    // Precondition: the caller may decrypt under the key with the whole context KMS binds.
    if (recorded)
      await hideRefusal(key, async () => {
        keyArn = await caller.guard(recorded, 'kms:Decrypt', parsed.header.kmsContext);
      });
    return { info, ...parsed, keyArn, key };
  }

  /**
   * The data key of an object `readable` answered. For objects other writers made (no key ARN
   * recorded) the right is checked as soon as KMS names the key, and the data key is zeroed unseen
   * on refusal; until then any failure answers as for a missing name. Once the caller is known to
   * be allowed, every failure is the one InvalidCiphertext.
   */
  private async dataKeyOf(caller: DocumentCaller, opened: FoundDocument): Promise<Buffer> {
    const { key, header, keyArn } = opened;
    let out: Awaited<ReturnType<Keys['decrypt']>>;
    try {
      out = await this.keys.decrypt(header.wrappedKey, header.kmsContext, keyArn);
    } catch (error) {
      // Not yet known to be allowed: nothing about the object is told but what a missing one tells.
      if (keyArn === undefined) throw transient(error) ? error : notFound(key);
      throw error instanceof DomainError && error.code === 'AccessDenied'
        ? error
        : new InvalidCiphertextError({ cause: error });
    }
    const dataKey = Buffer.from(out.plaintext);
    out.plaintext.fill(0);
    if (keyArn === undefined) {
      try {
        await hideRefusal(key, () => caller.guard(out.keyArn, 'kms:Decrypt', header.kmsContext));
      } catch (error) {
        dataKey.fill(0);
        throw error;
      }
    }
    return dataKey;
  }

  /** The metadata view of an object, for a caller who may decrypt it. Never a secret. */
  async head(caller: DocumentCaller, key: string): Promise<ObjectView> {
    const opened = await this.readable(caller, key);
    if (opened.keyArn === undefined) (await this.dataKeyOf(caller, opened)).fill(0);
    return this.view(key, opened.info, opened.header, opened.instruction);
  }

  private view(
    key: string,
    info: StoredObjectInfo,
    header: EnvelopeHeader,
    instruction: boolean,
  ): ObjectView {
    return {
      key,
      format: header.version === 'v2' ? 's3ec-v2' : 's3ec-v3',
      ...(info.metadata[EAAS_METADATA.keyArn] ? { keyId: info.metadata[EAAS_METADATA.keyArn] } : {}),
      size: Math.max(0, info.size - TAG_BYTES),
      storedSize: info.size,
      context: userContextOf(header),
      ...(info.metadata[EAAS_METADATA.owner] ? { owner: info.metadata[EAAS_METADATA.owner] } : {}),
      // Only a media type as writes are checked for (objects stored before the check may hold others).
      ...(info.contentType && isMediaType(info.contentType) ? { contentType: info.contentType } : {}),
      ...(info.metadata[EAAS_METADATA.created] ? { createdAt: info.metadata[EAAS_METADATA.created] } : {}),
      lastModified: info.lastModified.toISOString(),
      etag: info.etag,
      instructionFile: instruction,
    };
  }

  /**
   * Decrypts an object of up to INLINE_LIMIT bytes in memory and answers it only once its tag
   * has been checked. Larger objects: `openAuthenticated`.
   */
  async get(caller: DocumentCaller, key: string): Promise<{ view: ObjectView; plaintext: Buffer }> {
    const opened = await this.readable(caller, key);
    const { info, header, instruction } = opened;
    const dataKey = await this.dataKeyOf(caller, opened);
    if (info.size - TAG_BYTES > INLINE_LIMIT) {
      dataKey.fill(0);
      throw new PayloadTooLargeError(
        `The object is ${info.size - TAG_BYTES} bytes; the API answers up to ${INLINE_LIMIT}. Download it with the client's streaming download.`,
      );
    }
    const open = openerOf(header, dataKey);
    // Only once the header has opened: a body fetched is always read to its end or destroyed.
    const object = await this.store.get(key, { ifMatch: info.etag });
    try {
      const plaintext = await buffer(Readable.from(object.body as AsyncIterable<Buffer>).pipe(open));
      return { view: this.view(key, info, header, instruction), plaintext };
    } catch (error) {
      if (error instanceof EnvelopeDecryptError) throw new InvalidCiphertextError({ cause: error });
      throw error;
    } finally {
      destroyQuietly(object.body);
    }
  }

  /**
   * Objects of any size: authenticates the whole object in a first pass that releases nothing,
   * then streams the same version (If-Match its ETag) through the opener, which checks the tag
   * again at the end. Memory stays constant.
   */
  async openAuthenticated(
    caller: DocumentCaller,
    key: string,
  ): Promise<{ view: ObjectView; body: Readable }> {
    const opened = await this.readable(caller, key);
    const { info, header, instruction } = opened;
    const dataKey = await this.dataKeyOf(caller, opened);
    try {
      // The header opens first (commitment), so that no body is fetched only to be abandoned.
      openerOf(header, Buffer.from(dataKey)).destroy();
      const first = await this.store.get(key, { ifMatch: info.etag });
      try {
        await authenticate(header, Buffer.from(dataKey), first.body);
      } catch (error) {
        destroyQuietly(first.body);
        throw error instanceof EnvelopeDecryptError ? new InvalidCiphertextError({ cause: error }) : error;
      }
      const open = opener(header, Buffer.from(dataKey));
      const second = await this.store.get(key, { ifMatch: info.etag });
      const body = Readable.from(second.body as AsyncIterable<Buffer>).pipe(open);
      return { view: this.view(key, info, header, instruction), body };
    } finally {
      dataKey.fill(0);
    }
  }

  /**
   * What a client needs to download and decrypt an object of any size itself: a presigned GET of
   * the stored body (ciphertext and tag) and the object's AES-256-GCM content key, IV and AAD. A
   * V3 key commitment is checked here first. The content key is the object's own (one data key
   * per object), so it opens nothing else; it goes only to a caller allowed to decrypt the object.
   */
  async downloadTicket(caller: DocumentCaller, key: string) {
    const opened = await this.readable(caller, key);
    const { info, header, instruction } = opened;
    const dataKey = await this.dataKeyOf(caller, opened);
    let cipher: ReturnType<typeof contentCipherOf>;
    try {
      cipher = contentCipherOf(header, dataKey);
    } catch (error) {
      throw error instanceof EnvelopeDecryptError ? new InvalidCiphertextError({ cause: error }) : error;
    }
    const expiresIn = this.options.urlSeconds ?? 900;
    try {
      const url = await this.store.presignGet(key, expiresIn);
      return {
        ...this.view(key, info, header, instruction),
        url,
        expiresAt: new Date(Date.now() + expiresIn * 1000).toISOString(),
        cipher: {
          algorithm: 'AES-256-GCM' as const,
          key: cipher.key.toString('base64'),
          iv: cipher.iv.toString('base64'),
          aad: cipher.aad.toString('base64'),
          tagLength: TAG_BYTES,
        },
      };
    } finally {
      cipher.key.fill(0);
    }
  }

  /**
   * Deletes an object and its instruction file; the caller must be able to write under its key
   * and whole stored context. A caller who may not decrypt it either gets the answer for a missing
   * name; one left half-written (no readable header) only its owner may delete.
   */
  async delete(caller: DocumentCaller, key: string): Promise<{ key: string; deleted: true }> {
    const info = await this.found(key);
    const recorded = info.metadata[EAAS_METADATA.keyArn];
    let header: EnvelopeHeader | undefined;
    try {
      header = (await this.headerOf(key, info)).header;
    } catch (error) {
      if (!(error instanceof DomainError && error.code === 'InvalidCiphertext')) throw error;
    }
    if (header === undefined) {
      if (!(recorded && this.storedBy(caller, info))) throw notFound(key);
    } else if (!recorded) {
      // Readable to the caller perhaps, but never deleted through this service: those who may not
      // read it learn nothing more than of a missing name.
      const opened = { key, info, header, instruction: false, keyArn: undefined };
      (await this.dataKeyOf(caller, opened)).fill(0);
      throw new DomainError('AccessDenied', 'Objects this service did not write are not deleted through it.');
    } else {
      const context = header.kmsContext;
      await caller.guard(recorded, 'kms:Encrypt', context).catch(async (error: unknown) => {
        if (!hidden(error)) throw error;
        // Precondition: a caller who may not decrypt the document does not learn that it exists.
        await hideRefusal(key, () => caller.guard(recorded, 'kms:Decrypt', context));
        throw error;
      });
    }
    await this.store.delete(key);
    if (this.fits(`${key}${INSTRUCTION_SUFFIX}`)) await this.store.delete(`${key}${INSTRUCTION_SUFFIX}`);
    return { key, deleted: true };
  }

  /**
   * One page of the documents under `prefix` that the caller may decrypt: up to `limit` of them,
   * examining at most `listScanObjects` stored objects (one S3 listing page) per call, so that a
   * call's cost is bounded whatever the vault holds. Instruction files, job records and objects
   * this service did not write are never listed. `next` (the last object examined) is where the
   * following call starts; the handler seals it into an opaque page token, since it may name a
   * document the caller may not know of. A page may hold fewer than `limit` (even none) with a
   * `next`: how many calls a listing takes reveals, of what the caller may not read, no more than
   * about how many times `listScanObjects` objects the prefix holds.
   */
  async list(
    caller: DocumentCaller,
    prefix: string,
    limit: number,
    cursor?: DocumentCursor,
  ): Promise<{ objects: ObjectView[]; next?: DocumentCursor }> {
    // Nothing under a reserved prefix is a document: the records there are not even examined.
    if (reservedPrefixOf(prefix) !== undefined) return { objects: [] };
    const budget = this.options.listScanObjects ?? DEFAULT_LIST_SCAN_OBJECTS;
    const decisions = new Map<string, Promise<boolean>>();
    const viewOf = async (key: string): Promise<ObjectView | undefined> => {
      if (!isDocumentKey(key)) return undefined;
      const info = await this.store.head(key);
      const keyArn = info?.metadata[EAAS_METADATA.keyArn];
      if (!info || !keyArn) return undefined;
      let parsed: { header: EnvelopeHeader; instruction: boolean };
      try {
        parsed = await this.headerOf(key, info);
      } catch {
        return undefined;
      }
      // The whole context KMS binds, as every other read decides with.
      const context = parsed.header.kmsContext;
      const decisionKey = `${keyArn}\n${JSON.stringify(Object.entries(context).sort())}`;
      let allowed = decisions.get(decisionKey);
      if (!allowed) {
        allowed = caller.guard(keyArn, 'kms:Decrypt', context).then(
          () => true,
          () => false,
        );
        decisions.set(decisionKey, allowed);
      }
      return (await allowed) ? this.view(key, info, parsed.header, parsed.instruction) : undefined;
    };
    const objects: ObjectView[] = [];
    let after = cursor?.after;
    let examined = 0;
    while (examined < budget) {
      const { items, nextToken } = await this.store.list(prefix, budget - examined, undefined, after);
      let i = 0;
      while (i < items.length && objects.length < limit) {
        const chunk = items.slice(i, i + LIST_CONCURRENCY);
        for (const view of await Promise.all(chunk.map((item) => viewOf(item.key)))) {
          examined++;
          after = items[i++]?.key;
          if (view) objects.push(view);
          if (objects.length >= limit) break;
        }
      }
      // The listing ended: no next page.
      if ((nextToken === undefined && i >= items.length) || items.length === 0) return { objects };
      if (objects.length >= limit) break;
    }
    return { objects, ...(after !== undefined ? { next: { after } } : {}) };
  }
}

/** Where a document listing resumes: after this stored key (never shown to a caller as such). */
export interface DocumentCursor {
  after: string;
}

export function isDocumentCursor(value: unknown): value is DocumentCursor {
  const c = value as DocumentCursor | null;
  return typeof c === 'object' && c !== null && typeof c.after === 'string' && c.after.length > 0;
}

/** Stored objects one GET /v1/objects call examines at most, by default (one S3 listing page). */
export const DEFAULT_LIST_SCAN_OBJECTS = 1000;
/** Stored objects read at once while listing. */
const LIST_CONCURRENCY = 8;
