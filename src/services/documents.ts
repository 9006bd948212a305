import { pipeline, Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import {
  authenticate,
  contentCipherOf,
  EAAS_METADATA,
  EnvelopeDecryptError,
  type EnvelopeHeader,
  type EnvelopeVersion,
  opener,
  TAG_BYTES,
} from '../core/envelope/index.js';
import { DomainError, InvalidCiphertextError, PayloadTooLargeError } from '../core/errors.js';
import { instructionKeyOf } from '../core/object-names.js';
import type { Person } from '../core/person.js';
import { spacePrefixOf } from '../core/spaces.js';
import type { Keys, LargeObjects, ObjectStore } from '../ports.js';
import { INLINE_LIMIT } from './crypto.js';
import { listDocuments } from './documents/list.js';
import {
  DocumentReader,
  hidden,
  hiddenHeaderFailure,
  hideRefusal,
  notFound,
  openerOf,
  viewOf,
} from './documents/reader.js';
import { SpaceStore } from './documents/space-store.js';
import type { DocumentCaller, DocumentCursor, ObjectView } from './documents/types.js';
import { DocumentWriter } from './documents/writer.js';
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
 *
 * This module answers the routes; how an object is found and who may learn of it is in
 * `documents/reader.ts`, how one is written in `documents/writer.ts`, the listing in
 * `documents/list.ts`.
 */

export class DocumentService {
  private readonly reader: DocumentReader;
  private readonly writer: DocumentWriter;

  constructor(
    readonly keys: Keys,
    private readonly store: ObjectStore & LargeObjects,
    private readonly options: {
      version: EnvelopeVersion;
      urlSeconds?: number;
      /** GET /v1/objects: stored objects one call examines at most (1000 by default). */
      listScanObjects?: number;
      /** The person whose space this service is (`forCaller`): names relative to it, writes bound to it. */
      person?: Person;
    } = { version: 'v3' },
  ) {
    this.reader = new DocumentReader(keys, store);
    this.writer = new DocumentWriter(keys, store, this.reader, options.version, options.person);
  }

  /**
   * The documents as the caller names them: for a person, its space (`core/spaces.ts`), every
   * name relative to `people/<identityId>/` and every write bound to it by the context pair
   * `eaas:space`; for any other caller, the vault as it is. Every route goes through it.
   */
  forCaller(caller: DocumentCaller): DocumentService {
    const person = caller.person;
    if (person === undefined || this.options.person !== undefined) return this;
    return new DocumentService(this.keys, new SpaceStore(this.store, spacePrefixOf(person)), {
      ...this.options,
      person,
    });
  }

  /** Precondition of every write: a name that can take its instruction file too (`checkNewObjectKey`). */
  checkNewKey(key: string): void {
    this.writer.checkNewKey(key);
  }

  /** Envelope-encrypts a body of up to INLINE_LIMIT bytes into the vault under `key`. */
  put(
    caller: DocumentCaller,
    key: string,
    plaintext: Uint8Array,
    input: Parameters<DocumentWriter['put']>[3],
  ): ReturnType<DocumentWriter['put']> {
    const at = this.forCaller(caller);
    if (at !== this) return at.put(caller, key, plaintext, input);
    return this.writer.put(caller, key, plaintext, input);
  }

  /** Removes an object whose header is gone, and its instruction file (best effort). */
  removeUnreadable(key: string): Promise<void> {
    return this.writer.removeUnreadable(key);
  }

  /** The object a write to `key` would replace, once the caller is found allowed to replace it. */
  replaceable(caller: DocumentCaller, key: string): Promise<{ etag: string } | undefined> {
    const at = this.forCaller(caller);
    if (at !== this) return at.replaceable(caller, key);
    return this.writer.replaceable(caller, key);
  }

  /** The metadata view of an object, for a caller who may decrypt it. Never a secret. */
  async head(caller: DocumentCaller, key: string): Promise<ObjectView> {
    const at = this.forCaller(caller);
    if (at !== this) return at.head(caller, key);
    const opened = await this.reader.readable(caller, key);
    if (opened.keyArn === undefined) (await this.reader.dataKeyOf(caller, opened)).fill(0);
    return viewOf(key, opened.info, opened.header, opened.instruction, opened.recorded);
  }

  /**
   * Decrypts an object of up to INLINE_LIMIT bytes in memory and answers it only once its tag
   * has been checked. Larger objects: `openAuthenticated`.
   */
  async get(caller: DocumentCaller, key: string): Promise<{ view: ObjectView; plaintext: Buffer }> {
    const at = this.forCaller(caller);
    if (at !== this) return at.get(caller, key);
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
      return { view: viewOf(key, info, header, instruction, opened.recorded), plaintext };
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
   * again at the end and fails the body (EnvelopeDecryptError) if it does not match. Memory stays
   * constant. `maxBytes` bounds the plaintext (the streamed route's transport limit), checked only
   * once the caller is known to be allowed, as `get` does.
   */
  async openAuthenticated(
    caller: DocumentCaller,
    key: string,
    limits: { maxBytes?: number; hint?: string } = {},
  ): Promise<{ view: ObjectView; body: Readable }> {
    const at = this.forCaller(caller);
    if (at !== this) return at.openAuthenticated(caller, key, limits);
    const opened = await this.reader.readable(caller, key);
    const { info, header, instruction } = opened;
    const dataKey = await this.reader.dataKeyOf(caller, opened);
    try {
      const size = info.size - TAG_BYTES;
      if (limits.maxBytes !== undefined && size > limits.maxBytes)
        throw new PayloadTooLargeError(
          `The object is ${size} bytes; this route answers up to ${limits.maxBytes}.${limits.hint ? ` ${limits.hint}` : ''}`,
        );
      // The header opens first (commitment), so that no body is fetched only to be abandoned.
      openerOf(header, Buffer.from(dataKey)).destroy();
      const first = await this.store.get(key, { ifMatch: info.etag });
      try {
        await authenticate(header, Buffer.from(dataKey), first.body);
      } catch (error) {
        destroyQuietly(first.body);
        throw error instanceof EnvelopeDecryptError ? new InvalidCiphertextError({ cause: error }) : error;
      }
      // The second pass, then its opener: a version replaced in between (PreconditionFailed)
      // leaves no decipher behind.
      const second = await this.store.get(key, { ifMatch: info.etag });
      let open: ReturnType<typeof opener>;
      try {
        open = opener(header, Buffer.from(dataKey));
      } catch (error) {
        destroyQuietly(second.body);
        throw error instanceof EnvelopeDecryptError ? new InvalidCiphertextError({ cause: error }) : error;
      }
      // pipeline, not pipe: a body that fails (S3 connection lost) fails the plaintext stream too,
      // and a plaintext stream destroyed by its reader releases the body.
      pipeline(Readable.from(second.body as AsyncIterable<Buffer>), open, () => undefined);
      return { view: viewOf(key, info, header, instruction, opened.recorded), body: open };
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
  async downloadTicket(caller: DocumentCaller, key: string): ReturnType<DocumentService['downloadTicketIn']> {
    const at = this.forCaller(caller);
    return at.downloadTicketIn(caller, key);
  }

  private async downloadTicketIn(caller: DocumentCaller, key: string) {
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
        ...viewOf(key, info, header, instruction, opened.recorded),
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
    const at = this.forCaller(caller);
    if (at !== this) return at.delete(caller, key);
    const info = await this.reader.found(key);
    let recorded = info.metadata[EAAS_METADATA.keyArn];
    let header: EnvelopeHeader | undefined;
    try {
      const parsed = await this.reader.headerOf(key, info);
      header = parsed.header;
      // The key the header is under (a re-encryption job's copy of the metadata may be pending).
      if (recorded) recorded = parsed.recorded;
    } catch (error) {
      // Read before the caller is known to be allowed: any failure but a missing header (and one a
      // retry may mend) answers as for a missing name.
      if (!(error instanceof DomainError && error.code === 'InvalidCiphertext'))
        throw hiddenHeaderFailure(key, error);
    }
    if (header === undefined) {
      if (!(recorded && this.reader.storedBy(caller, info))) throw notFound(key);
    } else if (!recorded) {
      // Readable to the caller perhaps, but never deleted through this service: those who may not
      // read it learn nothing more than of a missing name.
      const opened = { key, info, header, instruction: false, keyArn: undefined, recorded: undefined };
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
    const at = this.forCaller(caller);
    if (at !== this) return at.list(caller, prefix, limit, cursor);
    return listDocuments({ store: this.store, reader: this.reader }, caller, {
      prefix,
      limit,
      cursor,
      budget: this.options.listScanObjects,
    });
  }
}
