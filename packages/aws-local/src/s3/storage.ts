import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { bucketNameProblem } from '@eaas/aws-rules';
import { z } from 'zod';
import { writeFileAtomic } from '../atomic-file.js';
import { Bucket } from './bucket.js';
import { noSuchBucket } from './errors.js';
import { readJson } from './files.js';
import { Uploads } from './uploads.js';

/**
 * Everything the local S3 keeps, under `<dataDir>/s3/`: `buckets/<name>/` (see Bucket),
 * `uploads/` (multipart uploads in progress) and `tmp/`, where bodies are received before they
 * are committed. `tmp/` is on the same file system, so a commit is a rename; it is emptied at
 * start, which is how an upload cut short by a crash leaves nothing behind.
 */

const bucketFileSchema = z.object({ name: z.string(), created: z.string() });

export class S3Storage {
  readonly buckets = new Map<string, Bucket>();
  readonly uploads: Uploads;
  readonly scratch: string;

  constructor(
    readonly root: string,
    configured: readonly string[],
    now: () => Date,
  ) {
    this.scratch = join(root, 'tmp');
    rmSync(this.scratch, { recursive: true, force: true });
    mkdirSync(this.scratch, { recursive: true, mode: 0o700 });
    const bucketsDir = join(root, 'buckets');
    mkdirSync(bucketsDir, { recursive: true, mode: 0o700 });
    for (const name of configured) {
      const file = join(bucketsDir, name, 'bucket.json');
      if (!existsSync(file)) {
        mkdirSync(join(bucketsDir, name), { recursive: true, mode: 0o700 });
        writeFileAtomic(file, `${JSON.stringify({ name, created: now().toISOString() })}\n`);
      }
    }
    // Buckets made under an earlier configuration stay reachable, as buckets do in S3.
    for (const name of readdirSync(bucketsDir)) {
      const parsed = bucketFileSchema.safeParse(readJson(join(bucketsDir, name, 'bucket.json')));
      if (bucketNameProblem(name) !== undefined || !parsed.success || parsed.data.name !== name) continue;
      this.buckets.set(name, new Bucket(name, join(bucketsDir, name), new Date(parsed.data.created)));
    }
    this.uploads = new Uploads(join(root, 'uploads'), this.scratch);
  }

  /** Precondition: the bucket exists. */
  bucket(name: string): Bucket {
    const bucket = this.buckets.get(name);
    if (!bucket) throw noSuchBucket(name);
    return bucket;
  }

  /** A fresh path in the scratch folder for a body being received. */
  scratchFile(): string {
    return join(this.scratch, `${randomUUID()}.part`);
  }
}
