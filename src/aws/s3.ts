import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { DomainError } from '../core/errors.js';
import type { LargeObjects, ObjectCopies, ObjectStore, StagingArea } from '../ports.js';
import { infoOf, S3Bucket } from './s3-bucket.js';
import { fromS3Error, isMissing } from './s3-errors.js';
import { forPresigning } from './s3-owner.js';
import { putStream } from './s3-put-stream.js';

/**
 * The `ObjectStore`, `LargeObjects` and `StagingArea` ports over `@aws-sdk/client-s3`: one bucket,
 * keys optionally behind a fixed prefix. S3's own errors become the service's (`fromS3Error`): a
 * failed condition is PreconditionFailed, a missing object is `undefined` or NotFound.
 */
export class S3ObjectStore extends S3Bucket implements ObjectStore, LargeObjects, StagingArea, ObjectCopies {
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
      throw fromS3Error(error, key);
    }
  }

  async getText(key: string): Promise<string | undefined> {
    return (await this.readText(key))?.text;
  }

  /**
   * CopyObject within the bucket, metadata replaced. The destination's If-None-Match / If-Match
   * condition the write as for PutObject, and x-amz-copy-source-if-match pins the source
   * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html: "before
   * creating it or copying it to the destination bucket"; API_CopyObject).
   */
  async copy(from: string, to: string, options: Parameters<ObjectCopies['copy']>[2]) {
    try {
      const out = await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: this.full(to),
          CopySource: `${this.bucket}/${encodeURIComponent(from).replace(/%2F/g, '/')}`,
          CopySourceIfMatch: options.sourceIfMatch,
          MetadataDirective: 'REPLACE',
          Metadata: options.metadata,
          ContentType: options.contentType,
          IfNoneMatch: options.ifNoneMatch,
          IfMatch: options.ifMatch,
        }),
      );
      return { etag: out.CopyObjectResult?.ETag ?? '' };
    } catch (error) {
      throw fromS3Error(error, to);
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
    const page = await this.listPage(prefix, limit, { nextToken, startAfter });
    return { items: page.items, ...(page.nextToken ? { nextToken: page.nextToken } : {}) };
  }

  putStream(
    key: string,
    body: AsyncIterable<Uint8Array>,
    options: Parameters<LargeObjects['putStream']>[2],
  ): Promise<{ etag: string; size: number }> {
    return putStream({ client: this.client, bucket: this.bucket, Key: this.full(key), key }, body, options);
  }

  presignGet(key: string, expiresIn: number): Promise<string> {
    return getSignedUrl(
      this.client,
      forPresigning(new GetObjectCommand({ Bucket: this.bucket, Key: this.full(key) })),
      { expiresIn },
    );
  }

  presignPut(key: string, size: number, expiresIn: number, options: { ifNoneMatch?: boolean } = {}) {
    return getSignedUrl(
      this.client,
      forPresigning(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.full(key),
          ContentLength: size,
          ...(options.ifNoneMatch ? { IfNoneMatch: '*' } : {}),
        }),
      ),
      // Signed as a header the caller sends (not hoisted into the query), as Content-Length is.
      { expiresIn, ...(options.ifNoneMatch ? { unhoistableHeaders: new Set(['if-none-match']) } : {}) },
    );
  }

  async startMultipart(
    key: string,
    contentType?: string,
    metadata?: Record<string, string>,
  ): Promise<string> {
    try {
      const out = await this.client.send(
        new CreateMultipartUploadCommand({
          Bucket: this.bucket,
          Key: this.full(key),
          ContentType: contentType,
          Metadata: metadata,
        }),
      );
      if (!out.UploadId) throw new DomainError('DependencyFailure', 'S3 answered no upload id.');
      return out.UploadId;
    } catch (error) {
      throw fromS3Error(error, key);
    }
  }

  presignPart(key: string, uploadId: string, partNumber: number, size: number, expiresIn: number) {
    return getSignedUrl(
      this.client,
      forPresigning(
        new UploadPartCommand({
          Bucket: this.bucket,
          Key: this.full(key),
          UploadId: uploadId,
          PartNumber: partNumber,
          ContentLength: size,
        }),
      ),
      { expiresIn },
    );
  }

  async completeMultipart(
    key: string,
    uploadId: string,
    parts: { partNumber: number; etag: string }[],
    conditions: { ifNoneMatch?: '*' | undefined; ifMatch?: string | undefined } = {},
  ) {
    try {
      // Conditional completion: https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
      const out = await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: this.full(key),
          UploadId: uploadId,
          MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
          IfNoneMatch: conditions.ifNoneMatch,
          IfMatch: conditions.ifMatch,
        }),
      );
      return { etag: out.ETag ?? '' };
    } catch (error) {
      throw fromS3Error(error, key);
    }
  }

  async listParts(key: string, uploadId: string) {
    const parts: { partNumber: number; etag: string; size: number }[] = [];
    let marker: string | undefined;
    try {
      for (;;) {
        const out = await this.client.send(
          new ListPartsCommand({
            Bucket: this.bucket,
            Key: this.full(key),
            UploadId: uploadId,
            ...(marker ? { PartNumberMarker: marker } : {}),
          }),
        );
        for (const p of out.Parts ?? [])
          parts.push({ partNumber: p.PartNumber ?? 0, etag: p.ETag ?? '', size: p.Size ?? 0 });
        if (!out.IsTruncated || !out.NextPartNumberMarker) return parts;
        marker = out.NextPartNumberMarker;
      }
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
      if (isMissing(error)) return;
      throw fromS3Error(error, key);
    }
  }
}
