import { CopyObjectCommand } from '@aws-sdk/client-s3';
import type { JobObjects } from '../ports.js';
import { S3Bucket } from './s3-bucket.js';
import { fromS3Error } from './s3-errors.js';

/**
 * The re-encryption job's view of the vault (the `JobObjects` port) over `@aws-sdk/client-s3`:
 * listings after a key, heads, small reads with their ETag (instruction files, job records),
 * streamed reads of large objects from a byte (completion reports),
 * ETag-conditioned writes (all from `S3Bucket`, with its one error mapping), and the in-place
 * server-side copy that replaces an object's metadata without its body passing through the
 * function. Throttled and DependencyFailure are retried by the job; a failed condition is
 * PreconditionFailed.
 */
export class S3JobObjects extends S3Bucket implements JobObjects {
  async listAfter(prefix: string, startAfter: string | undefined, limit: number) {
    const page = await this.listPage(prefix, limit, { startAfter });
    return { keys: page.items.map((item) => item.key), truncated: page.truncated };
  }

  read(key: string) {
    return this.readText(key);
  }

  readFrom(key: string, start: number) {
    return this.streamFrom(key, start);
  }

  write(key: string, text: string, options: Parameters<S3Bucket['writeText']>[2]) {
    return this.writeText(key, text, options);
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

/** `x-amz-copy-source`: bucket and key, URL-encoded, slashes kept. */
const copySource = (bucket: string, key: string) =>
  `${bucket}/${encodeURIComponent(key).replace(/%2F/g, '/')}`;
