import { z } from 'zod';
import { CHECKSUM_ALGORITHMS } from './checksums.js';
import { objectSseSchema } from './encryption.js';

/**
 * What the local S3 keeps about an object beside its body: the JSON sidecar. Writing the sidecar
 * is the moment an object (or its new version) becomes visible; it names the body file by a
 * generation id, so a body is never overwritten in place.
 */

/** Content headers S3 stores with an object and answers on GET and HEAD. */
export const STORED_HEADERS = [
  'cache-control',
  'content-disposition',
  'content-encoding',
  'content-language',
  'expires',
] as const;

const checksumSchema = z.object({ algorithm: z.enum(CHECKSUM_ALGORITHMS), value: z.string() });

export const objectRecordSchema = z.object({
  v: z.literal(1),
  key: z.string().min(1),
  /** Generation id of the body file. */
  body: z.string().regex(/^[0-9a-f]{16}$/),
  size: z.number().int().min(0),
  /** Without quotes: hex MD5, or `<hex>-<parts>` for a multipart upload. */
  etag: z.string(),
  lastModified: z.string(),
  contentType: z.string(),
  headers: z.record(z.string(), z.string()),
  /** User metadata (`x-amz-meta-*`), names lower-cased and without the prefix. */
  metadata: z.record(z.string(), z.string()),
  checksum: checksumSchema.optional(),
  /** Its server-side encryption; absent (objects stored before it was recorded): SSE-S3. */
  sse: objectSseSchema.optional(),
});

export type ObjectRecord = z.infer<typeof objectRecordSchema>;

/** An object's fields as an operation decides them; the store adds key, body and version. */
export type ObjectFields = Omit<ObjectRecord, 'v' | 'key' | 'body'>;

export type StoredChecksum = z.infer<typeof checksumSchema>;
