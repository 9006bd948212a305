import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { JobRecord, Task } from './job.js';
import { cells, decodeKey, ManifestError, readManifestObject } from './manifest.js';
import { bucketOfArn } from './reports.js';

/**
 * A job's manifest given as an S3 Inventory report (Manifest Spec Format
 * S3InventoryReport_CSV_20161130, Location the report's manifest.json with its ETag,
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-create-job.html "Specifying a
 * manifest"). The manifest.json names the report's data files (`files[]`: key, size,
 * MD5checksum) in the destination bucket and their columns (`fileSchema`, e.g.
 * "Bucket, Key, VersionId, IsLatest, Size"); each file is a gzip CSV, every cell quoted, keys
 * URL-encoded (https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory.html). Only CSV reports
 * are read here, as S3 Batch Operations reads only those.
 */

export const INVENTORY_FORMAT = 'S3InventoryReport_CSV_20161130';

interface InventoryManifest {
  sourceBucket?: unknown;
  destinationBucket?: unknown;
  fileFormat?: unknown;
  fileSchema?: unknown;
  files?: unknown;
}

interface InventoryFile {
  key: string;
  MD5checksum?: string | undefined;
}

function parseManifest(body: Uint8Array): { bucket?: string; columns: string[]; files: InventoryFile[] } {
  let parsed: InventoryManifest;
  try {
    parsed = JSON.parse(Buffer.from(body).toString('utf8')) as InventoryManifest;
  } catch {
    throw new ManifestError('The inventory manifest.json is not JSON');
  }
  if (parsed.fileFormat !== 'CSV')
    throw new ManifestError('The inventory report is not in CSV format (fileFormat must be CSV)');
  if (typeof parsed.fileSchema !== 'string')
    throw new ManifestError('The inventory manifest.json has no fileSchema');
  const columns = parsed.fileSchema.split(',').map((c) => c.trim());
  if (!columns.includes('Bucket') || !columns.includes('Key'))
    throw new ManifestError('The inventory fileSchema names no Bucket and Key');
  if (!Array.isArray(parsed.files)) throw new ManifestError('The inventory manifest.json has no files');
  const files = parsed.files.map((f: unknown) => {
    const file = f as { key?: unknown; MD5checksum?: unknown };
    if (typeof file.key !== 'string' || file.key === '')
      throw new ManifestError('An inventory file entry has no key');
    return {
      key: file.key,
      MD5checksum: typeof file.MD5checksum === 'string' ? file.MD5checksum : undefined,
    };
  });
  const destination = typeof parsed.destinationBucket === 'string' ? parsed.destinationBucket : undefined;
  return { ...(destination ? { bucket: bucketOfArn(destination) } : {}), columns, files };
}

async function readFile(s3: S3Client, bucket: string, file: InventoryFile): Promise<string> {
  let body: Uint8Array;
  try {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: file.key }));
    body = (await got.Body?.transformToByteArray()) ?? new Uint8Array();
  } catch (error) {
    throw new ManifestError(
      `Reading the inventory file ${file.key} failed: ${(error as Error).name}: ${(error as Error).message}`,
    );
  }
  if (file.MD5checksum && createHash('md5').update(body).digest('hex') !== file.MD5checksum)
    throw new ManifestError(`The inventory file ${file.key} does not match its MD5checksum`);
  try {
    return gunzipSync(body).toString('utf8');
  } catch {
    throw new ManifestError(`The inventory file ${file.key} is not gzip`);
  }
}

/** The tasks of an inventory report: one per data row, in the files' order. */
export async function readInventoryManifest(s3: S3Client, job: JobRecord): Promise<Task[]> {
  const object = await readManifestObject(s3, job);
  const manifest = parseManifest(object.body);
  // The data files sit beside the manifest.json, in the report's destination bucket.
  const bucket = manifest.bucket ?? object.bucket;
  const at = (values: string[], name: string) => {
    const i = manifest.columns.indexOf(name);
    return i < 0 ? undefined : values[i];
  };
  const tasks: Task[] = [];
  for (const file of manifest.files) {
    const text = await readFile(s3, bucket, file);
    for (const line of text.split(/\r?\n/)) {
      if (line.trim() === '') continue;
      const values = cells(line);
      const source = at(values, 'Bucket');
      const key = at(values, 'Key');
      if (!source || key === undefined || key === '')
        throw new ManifestError('An inventory row has no bucket or key');
      const versionId = at(values, 'VersionId');
      tasks.push({ bucket: source, key: decodeKey(key), ...(versionId ? { versionId } : {}) });
    }
  }
  return tasks;
}
