import { Readable, type Transform } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { contextProblems, type EncryptionContext } from '../core/context.js';
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
import { normalisePrincipal } from '../core/principal.js';
import type { Keys, LargeObjects, ObjectStore, StoredObjectInfo } from '../ports.js';
import type { KeyGuard } from './crypto.js';
import { INLINE_LIMIT } from './crypto.js';

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
  // The re-encryption jobs keep their records under jobs/ at the root of the vault (services/rewrap.ts).
  if (key.startsWith('jobs/'))
    throw new ValidationError('Object keys starting with jobs/ are reserved for re-encryption job records.');
  // The per-caller quotas keep their records under quotas/ at the root of the vault (aws/s3-quotas.ts).
  if (key.startsWith('quotas/'))
    throw new ValidationError('Object keys starting with quotas/ are reserved for per-caller quota records.');
}

/** S3 metadata is ASCII: a context must be too, besides the usual rules. */
export function checkContext(context: EncryptionContext | undefined): void {
  if (!context) return;
  const problems = contextProblems(context, 'context');
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

/** The instruction file's own metadata, as the S3 Encryption Clients write it. */
export const INSTRUCTION_METADATA = { 'x-amz-crypto-instr-file': '' } as const;

export class DocumentService {
  constructor(
    private readonly keys: Keys,
    private readonly store: ObjectStore & LargeObjects,
    private readonly options: { version: EnvelopeVersion; urlSeconds?: number } = { version: 'v3' },
  ) {}

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
    checkObjectKey(key);
    checkContext(input.context);
    if (plaintext.byteLength > INLINE_LIMIT)
      throw new PayloadTooLargeError(
        `The body is ${plaintext.byteLength} bytes; PUT /v1/objects takes up to ${INLINE_LIMIT}. Upload larger documents with POST /v1/uploads.`,
      );
    const userContext = input.context ?? {};
    const keyArn = await caller.guard(input.keyId, 'kms:Encrypt', userContext);
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
      contentType: input.contentType ?? 'application/octet-stream',
      contentLength: body.length,
      ...condition,
    });
    // The instruction file after the object, whose write was conditional: a refused write never
    // touches the header of the object it would have replaced.
    if (sealed.instruction !== undefined)
      await this.store.put(`${key}${INSTRUCTION_SUFFIX}`, Buffer.from(sealed.instruction), {
        metadata: { ...INSTRUCTION_METADATA },
        contentType: 'application/json',
      });
    return {
      key,
      keyId: sealed.keyArn,
      format: `s3ec-${this.options.version}` as const,
      size: plaintext.byteLength,
      etag,
    };
  }

  /**
   * The object a write to `key` would replace, if any, once the caller is found allowed to replace
   * it: the same right as deleting it (encrypt under its key and context). Objects this service
   * did not write are never replaced through it. Undefined when the key is free.
   */
  async replaceable(caller: DocumentCaller, key: string): Promise<{ etag: string } | undefined> {
    const info = await this.store.head(key);
    if (!info) return undefined;
    const recorded = info.metadata[EAAS_METADATA.keyArn];
    if (!recorded)
      throw new DomainError(
        'AccessDenied',
        'Objects this service did not write are not replaced through it.',
      );
    let context: EncryptionContext;
    try {
      context = userContextOf((await this.headerOf(key, info)).header);
    } catch {
      throw new DomainError(
        'AccessDenied',
        `The object ${JSON.stringify(key)} is not readable; it is not replaced.`,
      );
    }
    await caller.guard(recorded, 'kms:Encrypt', context);
    return { etag: info.etag };
  }

  private async headerOf(
    key: string,
    info: StoredObjectInfo,
  ): Promise<{ header: EnvelopeHeader; instruction: boolean }> {
    try {
      const where = headerLocation(info.metadata);
      if (where === 'metadata') return { header: decodeHeader(info.metadata), instruction: false };
      const text = await this.store.getText(`${key}${INSTRUCTION_SUFFIX}`);
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

  private async found(key: string): Promise<StoredObjectInfo> {
    checkObjectKey(key);
    const info = await this.store.head(key);
    if (!info) throw new DomainError('NotFound', `No object ${JSON.stringify(key)}.`);
    return info;
  }

  /**
   * The data key of an object, for a caller allowed to decrypt under its key and context. With
   * the key ARN this service records, the right is checked before KMS; for objects other writers
   * made, as soon as KMS names the key, and the data key is zeroed unseen on refusal.
   */
  private async dataKeyOf(
    caller: DocumentCaller,
    info: StoredObjectInfo,
    header: EnvelopeHeader,
  ): Promise<Buffer> {
    const context = userContextOf(header);
    const recorded = info.metadata[EAAS_METADATA.keyArn];
    const keyArn = recorded ? await caller.guard(recorded, 'kms:Decrypt', context) : undefined;
    let out: Awaited<ReturnType<Keys['decrypt']>>;
    try {
      out = await this.keys.decrypt(header.wrappedKey, header.kmsContext, keyArn);
    } catch (error) {
      throw error instanceof DomainError && error.code === 'AccessDenied'
        ? error
        : new InvalidCiphertextError({ cause: error });
    }
    const dataKey = Buffer.from(out.plaintext);
    out.plaintext.fill(0);
    if (keyArn === undefined) {
      try {
        await caller.guard(out.keyArn, 'kms:Decrypt', context);
      } catch (error) {
        dataKey.fill(0);
        throw new InvalidCiphertextError({ cause: error });
      }
    }
    return dataKey;
  }

  /** The metadata view of an object, for a caller who may decrypt it. Never a secret. */
  async head(caller: DocumentCaller, key: string): Promise<ObjectView> {
    const info = await this.found(key);
    const { header, instruction } = await this.headerOf(key, info);
    const recorded = info.metadata[EAAS_METADATA.keyArn];
    if (recorded) await caller.guard(recorded, 'kms:Decrypt', userContextOf(header));
    else (await this.dataKeyOf(caller, info, header)).fill(0);
    return this.view(key, info, header, instruction);
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
      ...(info.contentType ? { contentType: info.contentType } : {}),
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
    const info = await this.found(key);
    if (info.size - TAG_BYTES > INLINE_LIMIT)
      throw new PayloadTooLargeError(
        `The object is ${info.size - TAG_BYTES} bytes; the API answers up to ${INLINE_LIMIT}. Download it with the client's streaming download.`,
      );
    const { header, instruction } = await this.headerOf(key, info);
    const open = openerOf(header, await this.dataKeyOf(caller, info, header));
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
    const info = await this.found(key);
    const { header, instruction } = await this.headerOf(key, info);
    const dataKey = await this.dataKeyOf(caller, info, header);
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
    const info = await this.found(key);
    const { header, instruction } = await this.headerOf(key, info);
    const dataKey = await this.dataKeyOf(caller, info, header);
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

  /** Deletes an object and its instruction file; the caller must be able to write under its key. */
  async delete(caller: DocumentCaller, key: string): Promise<{ key: string; deleted: true }> {
    const info = await this.found(key);
    const { header } = await this.headerOf(key, info);
    const recorded = info.metadata[EAAS_METADATA.keyArn];
    if (!recorded)
      throw new DomainError('AccessDenied', 'Objects this service did not write are not deleted through it.');
    await caller.guard(recorded, 'kms:Encrypt', userContextOf(header));
    await this.store.delete(key);
    await this.store.delete(`${key}${INSTRUCTION_SUFFIX}`);
    return { key, deleted: true };
  }

  /**
   * One page of the objects under a prefix that the caller may decrypt; a page may hold fewer
   * than `limit` objects, continue while `nextToken` is present.
   */
  async list(caller: DocumentCaller, prefix: string, limit: number, nextToken?: string) {
    const page = await this.store.list(prefix, limit, nextToken);
    const allowed = new Map<string, boolean>();
    const objects: ObjectView[] = [];
    for (const item of page.items) {
      if (item.key.endsWith(INSTRUCTION_SUFFIX)) continue;
      const info = await this.store.head(item.key);
      if (!info) continue;
      let parsed: { header: EnvelopeHeader; instruction: boolean };
      try {
        parsed = await this.headerOf(item.key, info);
      } catch {
        continue;
      }
      const keyArn = info.metadata[EAAS_METADATA.keyArn];
      if (!keyArn) continue;
      const context = userContextOf(parsed.header);
      const cacheKey = `${keyArn}\n${JSON.stringify(Object.entries(context).sort())}`;
      if (!allowed.has(cacheKey)) {
        allowed.set(
          cacheKey,
          await caller.guard(keyArn, 'kms:Decrypt', context).then(
            () => true,
            () => false,
          ),
        );
      }
      if (allowed.get(cacheKey)) objects.push(this.view(item.key, info, parsed.header, parsed.instruction));
    }
    return { objects, ...(page.nextToken ? { nextToken: page.nextToken } : {}) };
  }
}
