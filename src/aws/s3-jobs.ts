import {
  CopyObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { DomainError } from '../core/errors.js';
import type { JobObjects, StoredObjectInfo } from '../ports.js';
import { lowerKeys, statusOf } from './s3.js';

/**
 * The re-encryption job's view of the vault over `@aws-sdk/client-s3`: listings after a key,
 * heads, small reads with their ETag (instruction files, job records), ETag-conditioned writes,
 * and the in-place server-side copy that replaces an object's metadata without its body passing
 * through the function. S3 SlowDown / 503 become Throttled and other 5xx DependencyFailure (both
 * retried by the job); a failed condition is PreconditionFailed.
 */

function fromS3Error(error: unknown, key: string): DomainError {
  if (error instanceof DomainError) return error;
  const name = (error as { name?: string })?.name ?? '';
  const status = statusOf(error);
  const options = { cause: error };
  // A conditional write racing another is 409 ConditionalRequestConflict, to be retried as a lost
  // condition (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html, If-None-Match).
  if (status === 412 || name === 'PreconditionFailed' || name === 'ConditionalRequestConflict')
    return new DomainError('PreconditionFailed', `The object ${key} changed.`, undefined, options);
  if (status === 404 || name === 'NoSuchKey' || name === 'NotFound')
    return new DomainError('NotFound', `No object ${JSON.stringify(key)}.`, undefined, options);
  if (status === 503 || name === 'SlowDown')
    return new DomainError('Throttled', 'S3 is throttling requests.', undefined, options);
  if (status === undefined || status >= 500)
    return new DomainError('DependencyFailure', 'The object store did not answer.', undefined, options);
  return new DomainError(
    'InternalError',
    `S3 refused a request on ${key}: ${name || status}.`,
    undefined,
    options,
  );
}

/** `x-amz-copy-source`: bucket and key, URL-encoded, slashes kept. */
const copySource = (bucket: string, key: string) =>
  `${bucket}/${encodeURIComponent(key).replace(/%2F/g, '/')}`;

export class S3JobObjects implements JobObjects {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly prefix = '',
  ) {}

  private full(key: string): string {
    return `${this.prefix}${key}`;
  }

  async listAfter(prefix: string, startAfter: string | undefined, limit: number) {
    try {
      const out = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.full(prefix),
          MaxKeys: limit,
          ...(startAfter !== undefined ? { StartAfter: this.full(startAfter) } : {}),
        }),
      );
      return {
        keys: (out.Contents ?? []).map((o) => (o.Key ?? '').slice(this.prefix.length)),
        truncated: out.IsTruncated === true,
      };
    } catch (error) {
      throw fromS3Error(error, prefix);
    }
  }

  async head(key: string): Promise<StoredObjectInfo | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.full(key) }));
      return {
        key,
        size: out.ContentLength ?? 0,
        etag: out.ETag ?? '',
        lastModified: out.LastModified ?? new Date(0),
        contentType: out.ContentType,
        metadata: lowerKeys(out.Metadata),
      };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw fromS3Error(error, key);
    }
  }

  async read(key: string) {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.full(key) }));
      const text = (await out.Body?.transformToString('utf8')) ?? '';
      return { text, etag: out.ETag ?? '', metadata: lowerKeys(out.Metadata) };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw fromS3Error(error, key);
    }
  }

  async write(
    key: string,
    text: string,
    options: {
      metadata?: Record<string, string> | undefined;
      contentType: string;
      ifMatch?: string | undefined;
      ifNoneMatch?: '*' | undefined;
    },
  ) {
    try {
      const body = Buffer.from(text, 'utf8');
      const out = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.full(key),
          Body: body,
          ContentLength: body.length,
          ContentType: options.contentType,
          Metadata: options.metadata,
          IfMatch: options.ifMatch,
          IfNoneMatch: options.ifNoneMatch,
        }),
      );
      return { etag: out.ETag ?? '' };
    } catch (error) {
      throw fromS3Error(error, key);
    }
  }

  async replaceMetadata(
    key: string,
    metadata: Record<string, string>,
    options: { ifMatch: string; contentType?: string | undefined },
  ) {
    try {
      const out = await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: this.full(key),
          CopySource: copySource(this.bucket, this.full(key)),
          CopySourceIfMatch: options.ifMatch,
          MetadataDirective: 'REPLACE',
          Metadata: metadata,
          ContentType: options.contentType,
        }),
      );
      return { etag: out.CopyObjectResult?.ETag ?? '' };
    } catch (error) {
      throw fromS3Error(error, key);
    }
  }
}
