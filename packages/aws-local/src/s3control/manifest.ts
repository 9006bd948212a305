import {
  GetObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { JobRecord, ManifestFilter, Task } from './job.js';
import { bucketOfArn } from './reports.js';

/**
 * The job's tasks, read as the job's role: a CSV manifest (S3BatchOperations_CSV_20180820, keys
 * URL-encoded, https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-create-job.html
 * "Specifying a manifest"), whose ETag must be the one the job names; or the bucket's listing
 * through the ManifestGenerator's filter
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_JobManifestGeneratorFilter.html).
 */

export class ManifestError extends Error {}

/** Splits a CSV line into cells (quoted cells may hold commas and doubled quotes). */
export function cells(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let value = '';
      i += 1;
      while (i < line.length) {
        if (line[i] === '"' && line[i + 1] === '"') {
          value += '"';
          i += 2;
        } else if (line[i] === '"') {
          i += 1;
          break;
        } else value += line[i++];
      }
      out.push(value);
      i += 1;
    } else {
      const comma = line.indexOf(',', i);
      const end = comma < 0 ? line.length : comma;
      out.push(line.slice(i, end));
      i = end + 1;
    }
  }
  return out;
}

export function decodeKey(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, '%20'));
  } catch {
    throw new ManifestError(`The manifest holds a key that is not URL-encoded: ${raw.slice(0, 100)}`);
  }
}

/**
 * The manifest object the job names, read as the job's role, its ETag checked against the job's
 * (CreateJob's JobManifestLocation.ETag: "The ETag for the specified manifest object",
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_JobManifestLocation.html).
 */
export async function readManifestObject(
  s3: S3Client,
  job: JobRecord,
): Promise<{ bucket: string; key: string; body: Uint8Array }> {
  const manifest = job.spec.Manifest;
  if (!manifest) throw new ManifestError('no manifest');
  const arn = manifest.Location.ObjectArn;
  const m = /^arn:[^:]+:s3:::([^/]+)\/(.+)$/.exec(arn);
  if (!m?.[1] || !m[2]) throw new ManifestError(`Manifest ObjectArn is not an object ARN: ${arn}`);
  let body: Uint8Array;
  let etag: string;
  try {
    const got = await s3.send(
      new GetObjectCommand({
        Bucket: m[1],
        Key: m[2],
        ...(manifest.Location.ObjectVersionId ? { VersionId: manifest.Location.ObjectVersionId } : {}),
      }),
    );
    etag = (got.ETag ?? '').replace(/"/g, '');
    body = (await got.Body?.transformToByteArray()) ?? new Uint8Array();
  } catch (error) {
    throw new ManifestError(
      `Reading the manifest failed: ${(error as Error).name}: ${(error as Error).message}`,
    );
  }
  if (etag !== manifest.Location.ETag.replace(/"/g, ''))
    throw new ManifestError('The manifest ETag does not match the ETag of the manifest object');
  return { bucket: m[1], key: m[2], body };
}

export async function readCsvManifest(s3: S3Client, job: JobRecord): Promise<Task[]> {
  const manifest = job.spec.Manifest;
  if (!manifest) throw new ManifestError('no manifest');
  const text = Buffer.from((await readManifestObject(s3, job)).body).toString('utf8');
  const fields = manifest.Spec.Fields;
  const tasks: Task[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const values = cells(line);
    const at = (name: string) => {
      const i = fields.indexOf(name);
      return i < 0 ? undefined : values[i];
    };
    const bucket = at('Bucket');
    const key = at('Key');
    if (!bucket || key === undefined || key === '')
      throw new ManifestError('A manifest line has no bucket or key');
    const versionId = at('VersionId');
    tasks.push({ bucket, key: decodeKey(key), ...(versionId ? { versionId } : {}) });
  }
  return tasks;
}

function matches(
  filter: ManifestFilter | undefined,
  key: string,
  size: number,
  modified: Date | undefined,
): boolean {
  if (!filter) return true;
  const t = modified?.getTime() ?? 0;
  if (filter.CreatedAfter !== undefined && !(t > Date.parse(filter.CreatedAfter))) return false;
  if (filter.CreatedBefore !== undefined && !(t < Date.parse(filter.CreatedBefore))) return false;
  if (filter.MatchAnyPrefix && !filter.MatchAnyPrefix.some((p) => key.startsWith(p))) return false;
  if (filter.MatchAnySuffix && !filter.MatchAnySuffix.some((s) => key.endsWith(s))) return false;
  if (filter.MatchAnySubstring && !filter.MatchAnySubstring.some((s) => key.includes(s))) return false;
  if (filter.ObjectSizeGreaterThanBytes !== undefined && !(size > filter.ObjectSizeGreaterThanBytes))
    return false;
  if (filter.ObjectSizeLessThanBytes !== undefined && !(size < filter.ObjectSizeLessThanBytes)) return false;
  return true;
}

/** The source bucket's objects that pass the filter, listed page by page as the job's role. */
export async function generateManifest(s3: S3Client, job: JobRecord): Promise<Task[]> {
  const generator = job.spec.ManifestGenerator;
  if (!generator) throw new ManifestError('no manifest generator');
  const bucket = bucketOfArn(generator.SourceBucket);
  const filter = generator.Filter;
  // One listing per prefix when the filter names prefixes: S3 need not list the whole bucket.
  const prefixes = filter?.MatchAnyPrefix?.length ? [...new Set(filter.MatchAnyPrefix)] : [''];
  const seen = new Set<string>();
  const tasks: Task[] = [];
  for (const prefix of prefixes) {
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await s3.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
        );
      } catch (error) {
        throw new ManifestError(
          `Listing the source bucket failed: ${(error as Error).name}: ${(error as Error).message}`,
        );
      }
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined || seen.has(o.Key)) continue;
        if (!matches(filter, o.Key, o.Size ?? 0, o.LastModified)) continue;
        seen.add(o.Key);
        tasks.push({ bucket, key: o.Key });
      }
      token = page.NextContinuationToken;
    } while (token);
  }
  return tasks;
}
