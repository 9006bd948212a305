import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../atomic-file.js';
import { CHECKSUM_ALGORITHMS } from './checksums.js';
import { objectSseSchema } from './encryption.js';
import { noSuchUpload } from './errors.js';
import { readJson, unlinkQuietly } from './files.js';

/**
 * Multipart uploads in progress, under `uploads/<uploadId>/`: `upload.json` (the object's future
 * headers and metadata), and per part `part-<n>.json` naming the body `part-<n>.<generation>.body`,
 * committed like objects (body renamed in first, sidecar atomically replaced). An upload that is
 * completed or aborted leaves at once: its folder is renamed into the scratch folder, then removed.
 */

const uploadSchema = z.object({
  v: z.literal(1),
  uploadId: z.string(),
  bucket: z.string(),
  key: z.string(),
  initiated: z.string(),
  /** ARN of the principal that created the upload. */
  initiator: z.string(),
  contentType: z.string(),
  headers: z.record(z.string(), z.string()),
  metadata: z.record(z.string(), z.string()),
  checksumAlgorithm: z.enum(CHECKSUM_ALGORITHMS).optional(),
  /** The future object's encryption, decided when the upload was created. */
  sse: objectSseSchema.optional(),
});
export type UploadRecord = z.infer<typeof uploadSchema>;

const partSchema = z.object({
  partNumber: z.number().int().min(1).max(10_000),
  /** Hex MD5 of the part, its ETag without quotes. */
  etag: z.string().regex(/^[0-9a-f]{32}$/),
  size: z.number().int().min(0),
  lastModified: z.string(),
  body: z.string().regex(/^[0-9a-f]{16}$/),
  checksum: z.object({ algorithm: z.enum(CHECKSUM_ALGORITHMS), value: z.string() }).optional(),
});
export type PartRecord = z.infer<typeof partSchema>;

export interface Upload {
  readonly record: UploadRecord;
  readonly parts: Map<number, PartRecord>;
  readonly dir: string;
  /** Set while CompleteMultipartUpload assembles the object: no part may change then. */
  completing: boolean;
}

const UPLOAD_ID = /^[A-Za-z0-9_-]{43}$/;

export class Uploads {
  private readonly uploads = new Map<string, Upload>();

  constructor(
    private readonly root: string,
    private readonly scratch: string,
  ) {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    this.load();
  }

  create(fields: Omit<UploadRecord, 'v' | 'uploadId'>): UploadRecord {
    const uploadId = randomBytes(32).toString('base64url');
    const dir = join(this.root, uploadId);
    mkdirSync(dir, { mode: 0o700 });
    const record: UploadRecord = { v: 1, uploadId, ...fields };
    writeFileAtomic(join(dir, 'upload.json'), `${JSON.stringify(record)}\n`);
    this.uploads.set(uploadId, { record, parts: new Map(), dir, completing: false });
    return record;
  }

  /** Precondition: the upload exists, belongs to this bucket and key, and is not being completed. */
  open(uploadId: string, bucket: string, key: string): Upload {
    const upload = this.uploads.get(uploadId);
    if (!upload || upload.completing || upload.record.bucket !== bucket || upload.record.key !== key)
      throw noSuchUpload(uploadId);
    return upload;
  }

  partPath(upload: Upload, part: Pick<PartRecord, 'partNumber' | 'body'>): string {
    return join(upload.dir, `part-${part.partNumber}.${part.body}.body`);
  }

  /** Makes a received body part `partNumber` of the upload, replacing an earlier one. */
  commitPart(
    uploadId: string,
    bucket: string,
    key: string,
    tmpBody: string,
    fields: Omit<PartRecord, 'body'>,
  ): PartRecord {
    const upload = this.open(uploadId, bucket, key);
    const part: PartRecord = { ...fields, body: randomBytes(8).toString('hex') };
    const target = this.partPath(upload, part);
    renameSync(tmpBody, target);
    try {
      writeFileAtomic(join(upload.dir, `part-${part.partNumber}.json`), `${JSON.stringify(part)}\n`);
    } catch (error) {
      unlinkQuietly(target);
      throw error;
    }
    const previous = upload.parts.get(part.partNumber);
    upload.parts.set(part.partNumber, part);
    if (previous) unlinkQuietly(this.partPath(upload, previous));
    return part;
  }

  /** Ends an upload (completed or aborted): gone at once, its files removed in the background. */
  remove(upload: Upload): void {
    if (this.uploads.get(upload.record.uploadId) !== upload) return;
    this.uploads.delete(upload.record.uploadId);
    const doomed = join(this.scratch, `upload-${upload.record.uploadId}`);
    renameSync(upload.dir, doomed);
    rm(doomed, { recursive: true, force: true }).catch((error: unknown) =>
      console.warn(`local S3: could not remove ${doomed}: ${(error as Error).message}`),
    );
  }

  /** The open uploads of a bucket, for ListMultipartUploads and tests. */
  inBucket(bucket: string): Upload[] {
    return [...this.uploads.values()].filter((u) => u.record.bucket === bucket && !u.completing);
  }

  private load(): void {
    for (const uploadId of readdirSync(this.root)) {
      const dir = join(this.root, uploadId);
      const parsed = UPLOAD_ID.test(uploadId)
        ? uploadSchema.safeParse(readJson(join(dir, 'upload.json')))
        : undefined;
      if (!parsed?.success || parsed.data.uploadId !== uploadId) {
        console.warn(`local S3: ignoring a damaged multipart upload ${dir}`);
        continue;
      }
      const upload: Upload = { record: parsed.data, parts: new Map(), dir, completing: false };
      const files = readdirSync(dir);
      const referenced = new Set<string>();
      for (const file of files.filter((f) => /^part-\d+\.json$/.test(f))) {
        const part = partSchema.safeParse(readJson(join(dir, file)));
        if (!part.success || file !== `part-${part.data.partNumber}.json`) continue;
        const body = this.partPath(upload, part.data);
        if (!existsSync(body)) continue;
        referenced.add(body);
        upload.parts.set(part.data.partNumber, part.data);
      }
      for (const file of files) {
        const path = join(dir, file);
        if ((file.endsWith('.body') && !referenced.has(path)) || file.endsWith('.tmp')) unlinkQuietly(path);
      }
      this.uploads.set(uploadId, upload);
    }
  }
}
