import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { type EncryptionContext, normalisePrincipal } from '@eaas/aws-rules';
import {
  checkObjectContext,
  EAAS_METADATA,
  type EnvelopeHeader,
  type EnvelopeVersion,
  INSTRUCTION_METADATA,
  kmsContextFor,
} from '../../core/envelope/index.js';
import { DomainError, PayloadTooLargeError } from '../../core/errors.js';
import { checkMediaType, DEFAULT_MEDIA_TYPE } from '../../core/media-type.js';
import { checkNewObjectKey, instructionKeyOf } from '../../core/object-names.js';
import type { Person } from '../../core/person.js';
import { refuseSpaceName, spaceContext } from '../../core/spaces.js';
import type { Keys, ObjectStore } from '../../ports.js';
import { INLINE_LIMIT } from '../crypto.js';
import { newEnvelope } from '../envelope-writer.js';
import { type DocumentReader, hidden } from './reader.js';
import type { DocumentCaller } from './types.js';

/**
 * How documents are written: a name checked for the store, the caller's right to encrypt and to
 * replace what the name holds, the object written on the condition that it is still what was
 * checked, and its instruction file after it; never a half-written document left readable.
 */
export class DocumentWriter {
  constructor(
    private readonly keys: Keys,
    private readonly store: ObjectStore,
    private readonly reader: DocumentReader,
    private readonly version: EnvelopeVersion,
    /** The person whose space this is: each write binds the pair `eaas:space`. */
    private readonly person?: Person,
  ) {}

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
    if (this.person === undefined) refuseSpaceName(key);
    // The caller's context, and a person's space pair, which no caller sets itself.
    const userContext = spaceContext(this.person, input.context);
    checkObjectContext(userContext);
    checkMediaType(input.contentType, 'Content-Type');
    if (plaintext.byteLength > INLINE_LIMIT)
      throw new PayloadTooLargeError(
        `The body is ${plaintext.byteLength} bytes; PUT /v1/objects takes up to ${INLINE_LIMIT}. Upload larger documents with POST /v1/uploads.`,
      );
    // Precondition: the caller may encrypt under the key with the whole context KMS will bind.
    const keyArn = await caller.guard(input.keyId, 'kms:Encrypt', kmsContextFor(this.version, userContext));
    const replaced = await this.replaceable(caller, key);
    if (replaced && input.overwrite === false)
      throw new DomainError(
        'PreconditionFailed',
        `An object ${JSON.stringify(key)} exists; overwrite is false.`,
      );
    const condition = replaced ? { ifMatch: replaced.etag } : { ifNoneMatch: '*' as const };
    const now = new Date().toISOString();
    const sealed = await newEnvelope(this.keys, {
      version: this.version,
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
      format: `s3ec-${this.version}` as const,
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
    let recordedKey = recorded;
    try {
      const parsed = await this.reader.headerOf(key, info);
      header = parsed.header;
      // The key the header is under (a re-encryption job's copy of the metadata may be pending).
      recordedKey = parsed.recorded ?? recorded;
    } catch (error) {
      if (!(error instanceof DomainError && error.code === 'InvalidCiphertext')) throw error;
      if (this.reader.storedBy(caller, info)) return { etag: info.etag };
      throw taken();
    }
    try {
      await caller.guard(recordedKey, 'kms:Encrypt', header.kmsContext);
    } catch (error) {
      if (hidden(error)) throw taken();
      throw error;
    }
    return { etag: info.etag };
  }
}
