import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import type { EncryptionContext } from '../core/context.js';
import {
  authenticate,
  checkObjectContext,
  contentCipherOf,
  EAAS_METADATA,
  EnvelopeDecryptError,
  type EnvelopeHeader,
  type EnvelopeVersion,
  INSTRUCTION_METADATA,
  kmsContextFor,
  opener,
  TAG_BYTES,
} from '../core/envelope/index.js';
import { DomainError, InvalidCiphertextError, PayloadTooLargeError } from '../core/errors.js';
import { checkMediaType, DEFAULT_MEDIA_TYPE } from '../core/media-type.js';
import { checkNewObjectKey, instructionKeyOf } from '../core/object-names.js';
import { normalisePrincipal } from '../core/principal.js';
import type { Keys, LargeObjects, ObjectStore } from '../ports.js';
import { INLINE_LIMIT } from './crypto.js';
import { listDocuments } from './documents/list.js';
import { DocumentReader, hidden, hideRefusal, notFound, openerOf, viewOf } from './documents/reader.js';
import type { DocumentCaller, DocumentCursor, ObjectView } from './documents/types.js';
import { newEnvelope } from './envelope-writer.js';
import { destroyQuietly } from './streams.js';

export {
  DEFAULT_LIST_SCAN_OBJECTS,
  type DocumentCaller,
  type DocumentCursor,
  isDocumentCursor,
  type ObjectView,
} from './documents/types.js';

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

export class DocumentService {
  private readonly reader: DocumentReader;

  constructor(
    private readonly keys: Keys,
    private readonly store: ObjectStore & LargeObjects,
    private readonly options: {
      version: EnvelopeVersion;
      urlSeconds?: number;
      /** GET /v1/objects: stored objects one call examines at most (1000 by default). */
      listScanObjects?: number;
    } = { version: 'v3' },
  ) {
    this.reader = new DocumentReader(keys, store);
  }

  /**
   * Precondition of every write (PUT, and uploads when they start and when they seal): a name that
   * can take its instruction file too, so that no header ever fails to find a place after the
   * object was written.
   */
  checkNewKey(key: string): void {
    checkNewObjectKey(key, this.store.keyPrefix);
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
    checkObjectContext(input.context);
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
      await this.store.put(instructionKeyOf(key), Buffer.from(instruction), {
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
    if (this.reader.fits(instructionKeyOf(key)))
      await this.store.delete(instructionKeyOf(key)).catch(() => undefined);
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
      header = (await this.reader.headerOf(key, info)).header;
    } catch (error) {
      if (!(error instanceof DomainError && error.code === 'InvalidCiphertext')) throw error;
      if (this.reader.storedBy(caller, info)) return { etag: info.etag };
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

  /** The metadata view of an object, for a caller who may decrypt it. Never a secret. */
  async head(caller: DocumentCaller, key: string): Promise<ObjectView> {
    const opened = await this.reader.readable(caller, key);
    if (opened.keyArn === undefined) (await this.reader.dataKeyOf(caller, opened)).fill(0);
    return viewOf(key, opened.info, opened.header, opened.instruction);
  }

  /**
   * Decrypts an object of up to INLINE_LIMIT bytes in memory and answers it only once its tag
   * has been checked. Larger objects: `openAuthenticated`.
   */
  async get(caller: DocumentCaller, key: string): Promise<{ view: ObjectView; plaintext: Buffer }> {
    const opened = await this.reader.readable(caller, key);
    const { info, header, instruction } = opened;
    const dataKey = await this.reader.dataKeyOf(caller, opened);
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
      return { view: viewOf(key, info, header, instruction), plaintext };
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
    const opened = await this.reader.readable(caller, key);
    const { info, header, instruction } = opened;
    const dataKey = await this.reader.dataKeyOf(caller, opened);
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
      return { view: viewOf(key, info, header, instruction), body };
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
    const opened = await this.reader.readable(caller, key);
    const { info, header, instruction } = opened;
    const dataKey = await this.reader.dataKeyOf(caller, opened);
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
        ...viewOf(key, info, header, instruction),
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
    const info = await this.reader.found(key);
    const recorded = info.metadata[EAAS_METADATA.keyArn];
    let header: EnvelopeHeader | undefined;
    try {
      header = (await this.reader.headerOf(key, info)).header;
    } catch (error) {
      if (!(error instanceof DomainError && error.code === 'InvalidCiphertext')) throw error;
    }
    if (header === undefined) {
      if (!(recorded && this.reader.storedBy(caller, info))) throw notFound(key);
    } else if (!recorded) {
      // Readable to the caller perhaps, but never deleted through this service: those who may not
      // read it learn nothing more than of a missing name.
      const opened = { key, info, header, instruction: false, keyArn: undefined };
      (await this.reader.dataKeyOf(caller, opened)).fill(0);
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
    if (this.reader.fits(instructionKeyOf(key))) await this.store.delete(instructionKeyOf(key));
    return { key, deleted: true };
  }

  /** One page of the documents under `prefix` the caller may decrypt: see `listDocuments`. */
  list(
    caller: DocumentCaller,
    prefix: string,
    limit: number,
    cursor?: DocumentCursor,
  ): Promise<{ objects: ObjectView[]; next?: DocumentCursor }> {
    return listDocuments({ store: this.store, reader: this.reader }, caller, {
      prefix,
      limit,
      cursor,
      budget: this.options.listScanObjects,
    });
  }
}
