import type { Transform } from 'node:stream';
import { normalisePrincipal } from '@eaas/aws-rules';
import {
  decodeHeader,
  EAAS_METADATA,
  EnvelopeDecryptError,
  EnvelopeFormatError,
  type EnvelopeHeader,
  headerLocation,
  opener,
  recordedKeyOf,
  TAG_BYTES,
  userContextOf,
} from '../../core/envelope/index.js';
import { DomainError, InvalidCiphertextError } from '../../core/errors.js';
import { isMediaType } from '../../core/media-type.js';
import { checkObjectKey, fitsS3, instructionKeyOf } from '../../core/object-names.js';
import type { Keys, ObjectStore, StoredObjectInfo } from '../../ports.js';
import type { DocumentCaller, ObjectView } from './types.js';

/**
 * How the document service finds an object and decides what a caller may learn of it: its
 * header (from metadata or instruction file), the caller's right to decrypt it, its data key, and
 * its view. Whoever may not decrypt a document gets exactly the answer for a missing name.
 */

/** An object's header, where it was read, and the key this service recorded for it (`recordedKeyOf`). */
export interface Header {
  header: EnvelopeHeader;
  instruction: boolean;
  recorded: string | undefined;
}

/** An object found, its header read, and the key ARN the caller was allowed to decrypt under (when recorded). */
export interface FoundDocument {
  key: string;
  info: StoredObjectInfo;
  header: EnvelopeHeader;
  instruction: boolean;
  keyArn: string | undefined;
  /** The key this service recorded for the header (`recordedKeyOf`), when it recorded one. */
  recorded: string | undefined;
}

/** The opening transform of an object; a header that does not open (commitment) is InvalidCiphertext. */
export function openerOf(header: EnvelopeHeader, dataKey: Buffer): Transform {
  try {
    return opener(header, dataKey);
  } catch (error) {
    throw error instanceof EnvelopeDecryptError ? new InvalidCiphertextError({ cause: error }) : error;
  }
}

/** The one answer for a name that holds no document the caller may decrypt: as for a missing one. */
export function notFound(key: string): DomainError {
  return new DomainError('NotFound', `No object ${JSON.stringify(key)}.`);
}

/** Refusals that say only that the caller may not use the key: hidden behind NotFound on reads. */
export function hidden(error: unknown): boolean {
  return error instanceof DomainError && (error.code === 'AccessDenied' || error.code === 'KeyNotFound');
}

/** Failures of a dependency that a retry may mend: answered as they are, never as a verdict on the object. */
function transient(error: unknown): boolean {
  return error instanceof DomainError && (error.code === 'DependencyFailure' || error.code === 'Throttled');
}

/**
 * The answer for a header that could not be read before the caller is known to be allowed (the
 * instruction file is read first): a failure a retry may mend as it is, any other (no readable
 * header, S3 refusing to give the instruction file...) as for a missing name, which is what a
 * caller who may not read the document gets.
 */
export function hiddenHeaderFailure(key: string, error: unknown): unknown {
  return transient(error) ? error : notFound(key);
}

/** Runs an access check whose refusal must not tell the caller that `key` holds a document. */
export async function hideRefusal(key: string, check: () => Promise<unknown>): Promise<void> {
  try {
    await check();
  } catch (error) {
    throw hidden(error) ? notFound(key) : error;
  }
}

export class DocumentReader {
  constructor(
    private readonly keys: Keys,
    private readonly store: ObjectStore,
  ) {}

  /** Whether `key` (a document's name, or its instruction file's) is an S3 key once the store's prefix is added. */
  fits(key: string): boolean {
    return fitsS3(this.store.keyPrefix, key);
  }

  /** Whether the caller is the principal that stored the object (as this service recorded it). */
  storedBy(caller: DocumentCaller, info: StoredObjectInfo): boolean {
    const owner = info.metadata[EAAS_METADATA.owner];
    return owner !== undefined && owner === normalisePrincipal(caller.arn);
  }

  /**
   * The object's header, from its metadata or its instruction file, and the key this service
   * recorded for it (`recordedKeyOf`: the instruction file's key while a re-encryption job's copy
   * of the metadata is pending); InvalidCiphertext when it has none readable.
   */
  async headerOf(key: string, info: StoredObjectInfo): Promise<Header> {
    try {
      const where = headerLocation(info.metadata);
      if (where === 'metadata')
        return { header: decodeHeader(info.metadata), instruction: false, recorded: recordedKeyOf(info) };
      // A name too long to have an instruction file has none (S3 would refuse to look it up).
      const file = this.fits(instructionKeyOf(key))
        ? await this.store.readText(instructionKeyOf(key))
        : undefined;
      if (file === undefined)
        throw new EnvelopeFormatError('The object is not encrypted by an S3 Encryption Client.');
      return {
        header: decodeHeader(info.metadata, file.text),
        instruction: true,
        recorded: recordedKeyOf(info, file),
      };
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
  async found(key: string): Promise<StoredObjectInfo> {
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
  async readable(caller: DocumentCaller, key: string): Promise<FoundDocument> {
    const info = await this.found(key);
    let parsed: Header;
    try {
      parsed = await this.headerOf(key, info);
    } catch (error) {
      throw hiddenHeaderFailure(key, error);
    }
    const { recorded } = parsed;
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
  async dataKeyOf(caller: DocumentCaller, opened: FoundDocument): Promise<Buffer> {
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
}

/** The metadata view of an object: never a secret. */
export function viewOf(
  key: string,
  info: StoredObjectInfo,
  header: EnvelopeHeader,
  instruction: boolean,
  /** The key recorded for the header (`Header.recorded`): the one the document opens with. */
  recorded: string | undefined = info.metadata[EAAS_METADATA.keyArn],
): ObjectView {
  return {
    key,
    format: header.version === 'v2' ? 's3ec-v2' : 's3ec-v3',
    ...(recorded ? { keyId: recorded } : {}),
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
