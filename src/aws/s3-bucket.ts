import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { StoredObjectInfo } from '../ports.js';
import { fromS3Error, isMissing, statusOf } from './s3-errors.js';

/**
 * One bucket over `@aws-sdk/client-s3`, keys optionally behind a fixed prefix: what every S3
 * adapter shares (heads, listings, small records read with their ETag and written on a condition),
 * each call's failure translated by the one `fromS3Error`. The adapters of the ports extend it.
 */
export class S3Bucket {
  constructor(
    protected readonly client: S3Client,
    protected readonly bucket: string,
    protected readonly prefix = '',
  ) {}

  get keyPrefix(): string {
    return this.prefix;
  }

  protected full(key: string): string {
    return `${this.prefix}${key}`;
  }

  async head(key: string): Promise<StoredObjectInfo | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.full(key) }));
      return infoOf(key, out);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw fromS3Error(error, key);
    }
  }

  /** A small object (a JSON record, an instruction file) whole, with its ETag and metadata; undefined when absent. */
  async readText(
    key: string,
  ): Promise<{ text: string; etag: string; metadata: Record<string, string> } | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.full(key) }));
      const text = (await out.Body?.transformToString('utf8')) ?? '';
      return { text, etag: out.ETag ?? '', metadata: lowerKeys(out.Metadata) };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw fromS3Error(error, key);
    }
  }

  /**
   * An object streamed from byte `start` (GetObject `Range: bytes=<start>-`), its body as the SDK
   * hands it (a Node stream: async-iterable, destroyed when the iteration ends early), never held
   * whole; undefined when absent. A range starting at or past the end is S3's `416 InvalidRange`
   * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html: "Range"), answered here
   * as nothing left to read.
   */
  async streamFrom(key: string, start: number): Promise<AsyncIterable<Uint8Array> | undefined> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.full(key),
          ...(start > 0 ? { Range: `bytes=${start}-` } : {}),
        }),
      );
      return (out.Body as AsyncIterable<Uint8Array> | undefined) ?? empty();
    } catch (error) {
      if (isMissing(error)) return undefined;
      if (statusOf(error) === 416) return empty();
      throw fromS3Error(error, key);
    }
  }

  /**
   * Writes a small object whole; `ifMatch` requires that ETag, `ifNoneMatch: '*'` that there is
   * none (a lost condition is PreconditionFailed).
   */
  async writeText(
    key: string,
    text: string,
    options: {
      metadata?: Record<string, string> | undefined;
      contentType: string;
      ifMatch?: string | undefined;
      ifNoneMatch?: '*' | undefined;
    },
  ): Promise<{ etag: string }> {
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

  /** One ListObjectsV2 page of the objects under `prefix`, keys relative to the bucket's prefix. */
  protected async listPage(
    prefix: string,
    limit: number,
    options: { nextToken?: string | undefined; startAfter?: string | undefined },
  ) {
    try {
      const out = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.full(prefix),
          MaxKeys: limit,
          ContinuationToken: options.nextToken,
          ...(options.startAfter !== undefined ? { StartAfter: this.full(options.startAfter) } : {}),
        }),
      );
      return {
        items: (out.Contents ?? []).map((o) => ({
          key: (o.Key ?? '').slice(this.prefix.length),
          size: o.Size ?? 0,
          lastModified: o.LastModified ?? new Date(0),
          etag: o.ETag ?? '',
        })),
        truncated: out.IsTruncated === true,
        nextToken: out.IsTruncated ? out.NextContinuationToken : undefined,
      };
    } catch (error) {
      throw fromS3Error(error, prefix);
    }
  }
}

async function* empty(): AsyncGenerator<Uint8Array> {}

/** S3 user metadata with lower-cased keys, as the services read it. */
export function lowerKeys(map: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(map ?? {})) out[k.toLowerCase()] = v;
  return out;
}

/** What HeadObject and GetObject both answer about an object. */
export function infoOf(
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
