import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { DomainError, ValidationError } from '../../src/core/errors.js';
import type {
  LargeObjects,
  ObjectCopies,
  ObjectStore,
  StagingArea,
  StoredObjectInfo,
} from '../../src/ports.js';

/**
 * One S3 bucket in memory, for unit tests of the services: the `ObjectStore`, `LargeObjects` and
 * `StagingArea` ports with S3's conditions (If-Match, If-None-Match: * at write time), listings in
 * key order with a continuation token or a start-after key, and multipart uploads whose parts a
 * test sends as the browser would (`uploadPart`). Errors are the ones the S3 adapter maps S3's
 * answers to. Every call takes a turn of the event loop, so that concurrent steps interleave as
 * they do over the network; `fail` makes the next call of an operation fail.
 */

interface Stored {
  body: Buffer;
  etag: string;
  metadata: Record<string, string>;
  contentType?: string | undefined;
  lastModified: Date;
}

type Operation = 'put' | 'head' | 'get' | 'delete' | 'list' | 'putStream' | 'completeMultipart' | 'copy';

const turn = () => new Promise((resolve) => setImmediate(resolve));
const etagOf = (body: Buffer, n: number) =>
  `"${createHash('md5').update(body).update(String(n)).digest('hex')}"`;

export class MemoryBucket implements ObjectStore, LargeObjects, StagingArea, ObjectCopies {
  readonly objects = new Map<string, Stored>();
  readonly calls: Record<Operation, number> = {
    put: 0,
    head: 0,
    get: 0,
    delete: 0,
    list: 0,
    putStream: 0,
    completeMultipart: 0,
    copy: 0,
  };
  private readonly multipart = new Map<
    string,
    { key: string; parts: Map<number, Buffer>; metadata: Record<string, string>; contentType?: string }
  >();
  private readonly failures = new Map<Operation, Error[]>();
  private n = 0;

  constructor(readonly keyPrefix = '') {}

  /** Makes the next call of `operation` fail with `error` (queued: one per call). */
  fail(operation: Operation, error: Error): void {
    this.failures.set(operation, [...(this.failures.get(operation) ?? []), error]);
  }

  private async enter(operation: Operation): Promise<void> {
    this.calls[operation]++;
    await turn();
    const error = this.failures.get(operation)?.shift();
    if (error) throw error;
  }

  /** Writes an object as another writer (or a browser through a presigned URL) would. */
  set(
    key: string,
    body: Buffer | string,
    metadata: Record<string, string> = {},
    contentType?: string,
  ): string {
    const bytes = Buffer.from(body);
    const etag = etagOf(bytes, ++this.n);
    this.objects.set(key, {
      body: bytes,
      etag,
      metadata: { ...metadata },
      contentType,
      lastModified: new Date(),
    });
    return etag;
  }

  private check(key: string, options: { ifMatch?: string | undefined; ifNoneMatch?: '*' | undefined }): void {
    const current = this.objects.get(key);
    if (options.ifNoneMatch === '*' && current)
      throw new DomainError('PreconditionFailed', `The object ${key} exists.`);
    if (options.ifMatch !== undefined && current?.etag !== options.ifMatch)
      throw new DomainError('PreconditionFailed', `The object ${key} changed.`);
  }

  private info(key: string, stored: Stored): StoredObjectInfo {
    return {
      key,
      size: stored.body.length,
      etag: stored.etag,
      lastModified: stored.lastModified,
      contentType: stored.contentType,
      metadata: { ...stored.metadata },
    };
  }

  async put(
    key: string,
    body: Uint8Array | NodeJS.ReadableStream,
    options: Parameters<ObjectStore['put']>[2],
  ) {
    await this.enter('put');
    const bytes =
      body instanceof Uint8Array ? Buffer.from(body) : await collect(body as AsyncIterable<Uint8Array>);
    this.check(key, options);
    return { etag: this.set(key, bytes, options.metadata, options.contentType) };
  }

  async head(key: string) {
    await this.enter('head');
    const stored = this.objects.get(key);
    return stored && this.info(key, stored);
  }

  async exists(key: string) {
    return this.objects.has(key);
  }

  async get(key: string, options: { ifMatch?: string | undefined } = {}) {
    await this.enter('get');
    const stored = this.objects.get(key);
    if (!stored) throw new DomainError('NotFound', `No object ${JSON.stringify(key)}.`);
    this.check(key, options);
    return { ...this.info(key, stored), body: Readable.from([stored.body]) };
  }

  async getText(key: string) {
    return this.objects.get(key)?.body.toString('utf8');
  }

  async readText(key: string) {
    const stored = this.objects.get(key);
    return (
      stored && { text: stored.body.toString('utf8'), etag: stored.etag, metadata: { ...stored.metadata } }
    );
  }

  /**
   * CopyObject within the bucket, metadata replaced, conditions on source and destination. Keys
   * are kept without the prefix here, so a source at the bucket's root is one of `objects` too.
   */
  async copy(from: string, to: string, options: Parameters<ObjectCopies['copy']>[2]) {
    await this.enter('copy');
    const source = this.objects.get(from);
    if (!source) throw new DomainError('NotFound', `No object ${JSON.stringify(from)}.`);
    if (source.etag !== options.sourceIfMatch)
      throw new DomainError('PreconditionFailed', `The object ${from} changed.`);
    this.check(to, options);
    return { etag: this.set(to, source.body, options.metadata, options.contentType) };
  }

  async delete(key: string) {
    await this.enter('delete');
    this.objects.delete(key);
  }

  async list(prefix: string, limit: number, nextToken?: string, startAfter?: string) {
    await this.enter('list');
    const after = nextToken ?? startAfter;
    const keys = [...this.objects.keys()]
      .filter((k) => k.startsWith(prefix) && (after === undefined || k > after))
      .sort();
    const page = keys.slice(0, limit);
    const items = page.map((key) => {
      const stored = this.objects.get(key) as Stored;
      return { key, size: stored.body.length, lastModified: stored.lastModified, etag: stored.etag };
    });
    return { items, ...(keys.length > limit ? { nextToken: page.at(-1) } : {}) };
  }

  async putStream(
    key: string,
    body: AsyncIterable<Uint8Array>,
    options: Parameters<LargeObjects['putStream']>[2],
  ) {
    await this.enter('putStream');
    const bytes = await collect(body);
    // As S3 does: the condition is checked when the upload completes, after the body was sent.
    this.check(key, options);
    return { etag: this.set(key, bytes, options.metadata, options.contentType), size: bytes.length };
  }

  async presignGet(key: string, expiresIn: number) {
    return `memory:///${key}?get&expires=${expiresIn}`;
  }

  async presignPut(key: string, size: number, expiresIn: number, options: { ifNoneMatch?: boolean } = {}) {
    return `memory:///${key}?put&size=${size}&expires=${expiresIn}${options.ifNoneMatch ? '&if-none-match' : ''}`;
  }

  async startMultipart(key: string, contentType?: string, metadata: Record<string, string> = {}) {
    const id = `mpu-${++this.n}`;
    this.multipart.set(id, {
      key,
      parts: new Map(),
      metadata: { ...metadata },
      ...(contentType ? { contentType } : {}),
    });
    return id;
  }

  async presignPart(key: string, uploadId: string, partNumber: number, size: number, expiresIn: number) {
    return `memory:///${key}?uploadId=${uploadId}&partNumber=${partNumber}&size=${size}&expires=${expiresIn}`;
  }

  /** A part sent as the browser sends it to its presigned URL; answers its ETag. */
  uploadPart(uploadId: string, partNumber: number, body: Buffer): string {
    const upload = this.multipart.get(uploadId);
    if (!upload) throw new DomainError('NotFound', `No upload ${uploadId}.`);
    upload.parts.set(partNumber, body);
    return etagOf(body, partNumber);
  }

  async completeMultipart(
    key: string,
    uploadId: string,
    parts: { partNumber: number; etag: string }[],
    conditions: { ifNoneMatch?: '*' | undefined; ifMatch?: string | undefined } = {},
  ) {
    await this.enter('completeMultipart');
    const upload = this.multipart.get(uploadId);
    if (!upload || upload.key !== key)
      throw new ValidationError('S3 refused the parts of the upload: NoSuchUpload.');
    const current = this.objects.get(key);
    if (
      (conditions.ifNoneMatch === '*' && current) ||
      (conditions.ifMatch !== undefined && current?.etag !== conditions.ifMatch)
    )
      throw new DomainError('PreconditionFailed', `The object ${key} changed.`);
    const bodies = parts.map((p) => {
      const body = upload.parts.get(p.partNumber);
      if (!body || etagOf(body, p.partNumber) !== p.etag)
        throw new ValidationError('S3 refused the parts of the upload: InvalidPart.');
      return body;
    });
    this.multipart.delete(uploadId);
    return { etag: this.set(key, Buffer.concat(bodies), upload.metadata, upload.contentType) };
  }

  async listParts(_key: string, uploadId: string) {
    const upload = this.multipart.get(uploadId);
    if (!upload) throw new DomainError('NotFound', `No upload ${uploadId}.`);
    return [...upload.parts.entries()]
      .sort(([a], [b]) => a - b)
      .map(([partNumber, body]) => ({ partNumber, etag: etagOf(body, partNumber), size: body.length }));
  }

  async abortMultipart(_key: string, uploadId: string) {
    this.multipart.delete(uploadId);
  }

  /** Multipart uploads started and neither completed nor aborted. */
  get openUploads(): number {
    return this.multipart.size;
  }
}

async function collect(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}
