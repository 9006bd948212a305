import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { LargeObjects } from '../ports.js';
import { fromS3Error, isS3Answer } from './s3-errors.js';

/** Parts of 8 MiB: above S3's 5 MiB minimum, 10,000 of them make 80 GiB. */
export const DEFAULT_PART_BYTES = 8 * 1024 * 1024;
/** S3's smallest part but the last. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** Parts uploaded at once while the next is being filled: memory is (this + 1) parts. */
const PARTS_IN_FLIGHT = 2;

/**
 * Streams a body of unknown length into `Key` by multipart upload (the `LargeObjects.putStream`
 * of the S3 adapter): each part is filled in place in its own buffer, at most PARTS_IN_FLIGHT
 * are sent at once, and the upload is aborted on any failure, so nothing is visible until it
 * completes. `key` (without the store's prefix) names the object in errors.
 */
export async function putStream(
  target: { client: S3Client; bucket: string; Key: string; key: string },
  body: AsyncIterable<Uint8Array>,
  options: Parameters<LargeObjects['putStream']>[2],
): Promise<{ etag: string; size: number }> {
  const { client, bucket, Key, key } = target;
  const partSize = options.partSize ?? DEFAULT_PART_BYTES;
  let uploadId: string | undefined;
  const parts: { PartNumber: number; ETag: string }[] = [];
  const inFlight = new Set<Promise<void>>();
  const spare: Buffer<ArrayBuffer>[] = [];
  let failure: unknown;
  let size = 0;
  const send = (partNumber: number, bytes: Buffer<ArrayBuffer>) => {
    const upload = client
      .send(
        new UploadPartCommand({
          Bucket: bucket,
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
    const created = await client.send(
      new CreateMultipartUploadCommand({
        Bucket: bucket,
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
    const done = await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
        IfNoneMatch: options.ifNoneMatch,
        IfMatch: options.ifMatch,
      }),
    );
    return { etag: done.ETag ?? '', size };
  } catch (error) {
    await Promise.allSettled(inFlight);
    if (uploadId !== undefined)
      await client
        .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key, UploadId: uploadId }))
        .catch(() => undefined);
    // S3's answers become the service's errors; the body's own failures pass as they are.
    if (!isS3Answer(error)) throw error;
    throw fromS3Error(error, key);
  }
}
