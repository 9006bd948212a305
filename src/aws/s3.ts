import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { DomainError } from '../core/errors.js';
import type { ObjectStore, StoredObjectInfo } from '../ports.js';

/**
 * The `ObjectStore` port over `@aws-sdk/client-s3`: one bucket, keys optionally behind a fixed
 * prefix. S3's own errors become the service's: a failed condition is PreconditionFailed, a
 * missing object is `undefined` or NotFound, anything else DependencyFailure.
 */

function statusOf(error: unknown): number | undefined {
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
  if (status === 503 || name === 'SlowDown')
    return new DomainError('Throttled', 'S3 is throttling requests; retry with backoff.', undefined, {
      cause: error,
    });
  return new DomainError('DependencyFailure', 'The object store did not answer as expected.', undefined, {
    cause: error,
  });
}

function lowerKeys(map: Record<string, string> | undefined): Record<string, string> {
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

export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly prefix = '',
  ) {}

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

  async list(prefix: string, limit: number, nextToken?: string) {
    try {
      const out = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.full(prefix),
          MaxKeys: limit,
          ContinuationToken: nextToken,
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
}
