import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { DomainError, ValidationError } from '../core/errors.js';
import type { LargeObjects, ObjectStore, StagingArea, StoredObjectInfo } from '../ports.js';

/** Parts of 8 MiB: above S3's 5 MiB minimum, 10,000 of them make 80 GiB. */
export const DEFAULT_PART_BYTES = 8 * 1024 * 1024;
/** S3's smallest part but the last. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** Parts uploaded at once while the next is being filled: memory is (this + 1) parts. */
const PARTS_IN_FLIGHT = 2;

/**
 * The `ObjectStore` port over `@aws-sdk/client-s3`: one bucket, keys optionally behind a fixed
 * prefix. S3's own errors become the service's: a failed condition is PreconditionFailed, a
 * missing object is `undefined` or NotFound, anything else DependencyFailure.
 */

/** The HTTP status of an S3 SDK error, if S3 answered. */
export function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function fromS3Error(error: unknown, key: string): Error {
  const name = (error as { name?: string })?.name ?? '';
  const status = statusOf(error);
  if (status === 412 || name === 'PreconditionFailed')
    return new DomainError(
      'PreconditionFailed',
      `The object ${key} changed, or exists, against the request's condition.`,
      undefined,
      { cause: error },
    );
  if (status === 404 || name === 'NoSuchKey' || name === 'NotFound')
    return new DomainError('NotFound', `No object ${JSON.stringify(key)}.`, undefined, { cause: error });
  if (
    name === 'InvalidPart' ||
    name === 'InvalidPartOrder' ||
    name === 'EntityTooSmall' ||
    name === 'NoSuchUpload'
  )
    return new ValidationError(`S3 refused the parts of the upload: ${name}.`);
  if (status === 503 || name === 'SlowDown')
    return new DomainError('Throttled', 'S3 is throttling requests; retry with backoff.', undefined, {
      cause: error,
    });
  return new DomainError('DependencyFailure', 'The object store did not answer as expected.', undefined, {
    cause: error,
  });
}

/** S3 user metadata with lower-cased keys, as the services read it. */
export function lowerKeys(map: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(map ?? {})) out[k.toLowerCase()] = v;
  return out;
}

/** What HeadObject and GetObject both answer about an object. */
function infoOf(
  key: string,
  out: {
    ContentLength?: number | undefined;
    ETag?: string | undefined;
    LastModified?: Date | undefined;
    ContentType?: string | undefined;
    Metadata?: Record<string, string> | undefined;
  },
): StoredObjectInfo {
  return {
    key,
    size: out.ContentLength ?? 0,
    etag: out.ETag ?? '',
    lastModified: out.LastModified ?? new Date(0),
    contentType: out.ContentType,
    metadata: lowerKeys(out.Metadata),
  };
}

export class S3ObjectStore implements ObjectStore, LargeObjects, StagingArea {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly prefix = '',
  ) {}

  get keyPrefix(): string {
    return this.prefix;
  }

  private full(key: string): string {
    return `${this.prefix}${key}`;
  }

  async put(
    key: string,
    body: Uint8Array | NodeJS.ReadableStream,
    options: Parameters<ObjectStore['put']>[2],
  ): Promise<{ etag: string }> {
    try {
      const out = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.full(key),
          Body: body as Uint8Array | Readable,
          Metadata: options.metadata,
          ContentType: options.contentType,
          ContentLength: options.contentLength,
          IfNoneMatch: options.ifNoneMatch,
          IfMatch: options.ifMatch,
        }),
      );
      return { etag: out.ETag ?? '' };
    } catch (error) {
      throw fromS3Error(error, key);
    }
  }

  async head(key: string): Promise<StoredObjectInfo | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.full(key) }));
      return infoOf(key, out);
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw fromS3Error(error, key);
    }
  }

  async exists(key: string): Promise<boolean> {
    // The first key under the prefix `key` is `key` itself when it exists: no other sorts before it.
    const page = await this.list(key, 1);
    return page.items[0]?.key === key;
  }

  async get(key: string, options: { ifMatch?: string | undefined } = {}) {
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.full(key), IfMatch: options.ifMatch }),
      );
      if (!out.Body) throw new DomainError('DependencyFailure', 'The object store answered without a body.');
      return { ...infoOf(key, out), body: out.Body as Readable };
    } catch (error) {
      if (error instanceof DomainError) throw error;
      throw fromS3Error(error, key);
    }
  }

  async getText(key: string): Promise<string | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.full(key) }));
      const text = await out.Body?.transformToString('utf8');
      return text;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw fromS3Error(error, key);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.full(key) }));
    } catch (error) {
      throw fromS3Error(error, key);
    }
  }

  async list(prefix: string, limit: number, nextToken?: string, startAfter?: string) {
    try {
      const out = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.full(prefix),
          MaxKeys: limit,
          ContinuationToken: nextToken,
          ...(startAfter !== undefined ? { StartAfter: this.full(startAfter) } : {}),
        }),
      );
      return {
        items: (out.Contents ?? []).map((o) => ({
          key: (o.Key ?? '').slice(this.prefix.length),
          size: o.Size ?? 0,
          lastModified: o.LastModified ?? new Date(0),
          etag: o.ETag ?? '',
        })),
        ...(out.IsTruncated && out.NextContinuationToken ? { nextToken: out.NextContinuationToken } : {}),
      };
    } catch (error) {
      throw fromS3Error(error, prefix);
    }
  }

  async putStream(
    key: string,
    body: AsyncIterable<Uint8Array>,
    options: Parameters<LargeObjects['putStream']>[2],
  ): Promise<{ etag: string; size: number }> {
    const partSize = options.partSize ?? DEFAULT_PART_BYTES;
    const Key = this.full(key);
    let uploadId: string | undefined;
    const parts: { PartNumber: number; ETag: string }[] = [];
    const inFlight = new Set<Promise<void>>();
    const spare: Buffer<ArrayBuffer>[] = [];
    let failure: unknown;
    let size = 0;
    const send = (partNumber: number, bytes: Buffer<ArrayBuffer>) => {
      const upload = this.client
        .send(
          new UploadPartCommand({
            Bucket: this.bucket,
            Key,
            UploadId: uploadId,
            PartNumber: partNumber,
            Body: bytes,
            ContentLength: bytes.length,
          }),
        )
        .then(
          (out) => {
            parts.push({ PartNumber: partNumber, ETag: out.ETag ?? '' });
            // Sent: its buffer fills the next part (allocations stay at the parts in flight, plus one).
            if (bytes.length === partSize) spare.push(bytes);
          },
          (error: unknown) => {
            failure ??= error;
          },
        )
        .finally(() => inFlight.delete(upload));
      inFlight.add(upload);
    };
    try {
      const created = await this.client.send(
        new CreateMultipartUploadCommand({
          Bucket: this.bucket,
          Key,
          Metadata: options.metadata,
          ContentType: options.contentType,
        }),
      );
      uploadId = created.UploadId;
      // Each part is filled in place in its own buffer: no chunk is kept, no part is copied twice.
      let part = Buffer.allocUnsafe(partSize);
      let filled = 0;
      let partNumber = 0;
      for await (const chunk of body) {
        if (failure) throw failure;
        let offset = 0;
        size += chunk.byteLength;
        while (offset < chunk.byteLength) {
          const n = Math.min(partSize - filled, chunk.byteLength - offset);
          part.set(chunk.subarray(offset, offset + n), filled);
          filled += n;
          offset += n;
          if (filled === partSize) {
            send(++partNumber, part);
            filled = 0;
            while (inFlight.size >= PARTS_IN_FLIGHT) await Promise.race(inFlight);
            if (failure) throw failure;
            part = spare.pop() ?? Buffer.allocUnsafe(partSize);
          }
        }
      }
      if (filled > 0 || partNumber === 0) send(++partNumber, part.subarray(0, filled));
      await Promise.all(inFlight);
      if (failure) throw failure;
      parts.sort((a, b) => a.PartNumber - b.PartNumber);
      const done = await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
          IfNoneMatch: options.ifNoneMatch,
        }),
      );
      return { etag: done.ETag ?? '', size };
    } catch (error) {
      await Promise.allSettled(inFlight);
      if (uploadId !== undefined)
        await this.client
          .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: uploadId }))
          .catch(() => undefined);
      // S3's answers become the service's errors; the body's own failures pass as they are.
      if (error instanceof DomainError || !(error as { $metadata?: unknown })?.$metadata) throw error;
      throw fromS3Error(error, key);
    }
  }

  presignGet(key: string, expiresIn: number): Promise<string> {
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: this.full(key) }), {
      expiresIn,
    });
  }

  presignPut(key: string, size: number, expiresIn: number, options: { ifNoneMatch?: boolean } = {}) {
    return getSignedUrl(
      this.client,
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.full(key),
        ContentLength: size,
        ...(options.ifNoneMatch ? { IfNoneMatch: '*' } : {}),
      }),
      // Signed as a header the caller sends (not hoisted into the query), as Content-Length is.
      { expiresIn, ...(options.ifNoneMatch ? { unhoistableHeaders: new Set(['if-none-match']) } : {}) },
    );
  }

  async startMultipart(key: string, contentType?: string): Promise<string> {
    try {
      const out = await this.client.send(
        new CreateMultipartUploadCommand({
          Bucket: this.bucket,
          Key: this.full(key),
          ContentType: contentType,
        }),
      );
      if (!out.UploadId) throw new DomainError('DependencyFailure', 'S3 answered no upload id.');
      return out.UploadId;
    } catch (error) {
      if (error instanceof DomainError) throw error;
      throw fromS3Error(error, key);
    }
  }

  presignPart(key: string, uploadId: string, partNumber: number, size: number, expiresIn: number) {
    return getSignedUrl(
      this.client,
      new UploadPartCommand({
        Bucket: this.bucket,
        Key: this.full(key),
        UploadId: uploadId,
        PartNumber: partNumber,
        ContentLength: size,
      }),
      { expiresIn },
    );
  }

  async completeMultipart(key: string, uploadId: string, parts: { partNumber: number; etag: string }[]) {
    try {
      const out = await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: this.full(key),
          UploadId: uploadId,
          MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
        }),
      );
      return { etag: out.ETag ?? '' };
    } catch (error) {
      throw fromS3Error(error, key);
    }
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(
        new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.full(key), UploadId: uploadId }),
      );
    } catch (error) {
      if (statusOf(error) === 404) return;
      throw fromS3Error(error, key);
    }
  }
}
