import { createHash, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import type { Bucket } from './bucket.js';
import { S3Error } from './errors.js';
import { destinationBucketOf, type InventoryConfig } from './inventory.js';
import type { ObjectRecord } from './object-record.js';
import type { S3Storage } from './storage.js';

/**
 * Delivery of an S3 Inventory report. AWS delivers daily or weekly; the local S3 delivers when
 * asked (`LocalS3.deliverInventoryReport`, a local-only trigger), in AWS's layout
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html):
 * `<destination prefix>/<source bucket>/<config id>/<YYYY-MM-DDTHH-MMZ>/manifest.json`, its
 * `manifest.checksum` (the MD5 of manifest.json), and gzip CSV data files under
 * `<destination prefix>/<source bucket>/<config id>/data/`, every cell quoted, keys URL-encoded,
 * the columns Bucket, Key, then VersionId, IsLatest, DeleteMarker for `All` versions, then the
 * optional fields in the configuration's order
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory.html).
 *
 * The destination bucket must let S3 write there: its bucket policy must allow the service
 * principal `s3.amazonaws.com` `s3:PutObject` on the report's keys, as AWS asks
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-bucket-policies.html, "Grant
 * permissions for S3 Inventory and S3 analytics"); a Deny to that principal wins. Without it the
 * delivery is refused (AWS delivers nothing). Only CSV reports are made; the Hive symlink.txt is
 * not written; the local bucket is unversioned, so `All` shows each object once as the latest.
 */

/** Rows per data file (AWS splits large reports into several files too). */
const ROWS_PER_FILE = 100_000;

export interface InventoryDelivery {
  /** The manifest.json's key in the destination bucket, its ETag (no quotes), and the bucket. */
  bucket: string;
  manifestKey: string;
  etag: string;
  /** When the report's scan began (its folder's timestamp). */
  createdAt: Date;
}

const quoted = (value: string) => `"${value.replace(/"/g, '""')}"`;

/** `2016-11-06T21-32Z`: the report folder's name. */
function folderOf(at: Date): string {
  return `${at.toISOString().slice(0, 16).replace(':', '-')}Z`;
}

function columnsOf(config: InventoryConfig): string[] {
  const versions = config.includedObjectVersions === 'All' ? ['VersionId', 'IsLatest', 'DeleteMarker'] : [];
  return ['Bucket', 'Key', ...versions, ...config.optionalFields];
}

function cell(column: string, bucket: string, o: ObjectRecord): string {
  switch (column) {
    case 'Bucket':
      return bucket;
    case 'Key':
      return encodeURIComponent(o.key);
    case 'IsLatest':
      return 'true';
    case 'DeleteMarker':
      return 'false';
    case 'Size':
      return String(o.size);
    case 'LastModifiedDate':
      return o.lastModified;
    case 'ETag':
      return o.etag;
    case 'StorageClass':
      return 'STANDARD';
    case 'IsMultipartUploaded':
      return String(o.etag.includes('-'));
    case 'EncryptionStatus':
      return o.sse?.algorithm === 'aws:kms' ? 'SSE-KMS' : 'SSE-S3';
    case 'BucketKeyStatus':
      return o.sse?.bucketKeyEnabled ? 'ENABLED' : 'DISABLED';
    case 'ChecksumAlgorithm':
      return o.checksum?.algorithm ?? '';
    default:
      return '';
  }
}

type Statement = Record<string, unknown>;
const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);
const glob = (pattern: string, value: string) =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  ).test(value);

/** Whether a statement of the destination's policy speaks of S3 Inventory writing `arn`. */
function applies(st: Statement, arn: string, source: string, accountId: string): boolean {
  // S3's service principal, or anyone ("*", {"AWS": "*"}).
  const principal = st.Principal as { Service?: unknown; AWS?: unknown } | string | undefined;
  const anyone = principal === '*' || (typeof principal === 'object' && asList(principal.AWS).includes('*'));
  if (!anyone && !(typeof principal === 'object' && asList(principal.Service).includes('s3.amazonaws.com')))
    return false;
  if (!asList(st.Action).some((a) => typeof a === 'string' && glob(a.toLowerCase(), 's3:putobject')))
    return false;
  if (!asList(st.Resource).some((r) => typeof r === 'string' && glob(r, arn))) return false;
  // The conditions AWS's example sets: the source bucket and its account. Any other condition
  // is not modelled, and the statement is taken not to apply.
  const facts: Record<string, string> = {
    'aws:sourcearn': `arn:aws:s3:::${source}`,
    'aws:sourceaccount': accountId,
    's3:x-amz-acl': 'bucket-owner-full-control',
  };
  for (const [operator, entries] of Object.entries((st.Condition as Record<string, unknown>) ?? {})) {
    const like = /Like$/.test(operator);
    if (!/^(StringEquals|StringLike|ArnEquals|ArnLike)$/.test(operator)) return false;
    for (const [key, wanted] of Object.entries(entries as Record<string, unknown>)) {
      const fact = facts[key.toLowerCase()];
      if (fact === undefined) return false;
      if (!asList(wanted).some((w) => typeof w === 'string' && (like ? glob(w, fact) : w === fact)))
        return false;
    }
  }
  return true;
}

function requireDelivery(destination: Bucket, keys: string[], source: string, accountId: string): void {
  const statements = asList((destination.policyDocument as { Statement?: unknown } | undefined)?.Statement);
  for (const key of keys) {
    const arn = `arn:aws:s3:::${destination.name}/${key}`;
    const matching = statements.filter((st) =>
      applies(st as Statement, arn, source, accountId),
    ) as Statement[];
    if (matching.some((st) => st.Effect === 'Deny') || !matching.some((st) => st.Effect === 'Allow'))
      throw new S3Error(
        'AccessDenied',
        `The bucket policy of ${destination.name} does not allow s3.amazonaws.com to write the inventory report (${arn}).`,
      );
  }
}

function write(storage: S3Storage, bucket: Bucket, key: string, body: Buffer, at: Date, type: string) {
  const path = storage.scratchFile();
  writeFileSync(path, body, { mode: 0o600 });
  return bucket.commit(
    key,
    { kind: 'file', path },
    {
      size: body.length,
      etag: createHash('md5').update(body).digest('hex'),
      lastModified: at.toISOString(),
      contentType: type,
      headers: {},
      metadata: {},
    },
  );
}

/** Delivers a report of `sourceName`'s inventory configuration `id` now. */
export function deliverInventoryReport(
  storage: S3Storage,
  sourceName: string,
  id: string,
  accountId: string,
  now: Date,
): InventoryDelivery {
  const source = storage.bucket(sourceName);
  const config = source.inventory(id);
  if (!config) throw new S3Error('NoSuchConfiguration', 'The specified configuration does not exist.');
  if (!config.enabled)
    throw new S3Error('InvalidRequest', `The inventory configuration ${id} is not enabled.`);
  if (config.destination.format !== 'CSV')
    throw new S3Error(
      'NotImplemented',
      `The local S3 delivers CSV inventory reports only, not ${config.destination.format}.`,
    );
  if (config.destination.accountId !== undefined && config.destination.accountId !== accountId)
    throw new S3Error(
      'AccessDenied',
      `The destination bucket is not owned by ${config.destination.accountId}.`,
    );
  const destination = storage.bucket(destinationBucketOf(config));
  const prefix = config.destination.prefix ? `${config.destination.prefix.replace(/\/+$/, '')}/` : '';
  const base = `${prefix}${sourceName}/${id}`;
  const manifestKey = `${base}/${folderOf(now)}/manifest.json`;
  const columns = columnsOf(config);
  const files: { key: string; body: Buffer }[] = [];
  let rows: string[] = [];
  const flush = () => {
    if (rows.length === 0) return;
    files.push({ key: `${base}/data/${randomUUID()}.csv.gz`, body: gzipSync(`${rows.join('\n')}\n`) });
    rows = [];
  };
  const filter = config.filterPrefix ?? '';
  for (let i = 0; i < source.sorted.size; i++) {
    const key = source.sorted.keyAt(i);
    if (key === undefined || !key.startsWith(filter)) continue;
    const o = source.get(key);
    if (!o) continue;
    rows.push(columns.map((c) => quoted(cell(c, sourceName, o))).join(','));
    if (rows.length >= ROWS_PER_FILE) flush();
  }
  flush();
  const manifest = Buffer.from(
    JSON.stringify({
      sourceBucket: sourceName,
      destinationBucket: config.destination.bucketArn,
      version: '2016-11-30',
      creationTimestamp: String(now.getTime()),
      fileFormat: 'CSV',
      fileSchema: columns.join(', '),
      files: files.map((f) => ({
        key: f.key,
        size: f.body.length,
        MD5checksum: createHash('md5').update(f.body).digest('hex'),
      })),
    }),
  );
  const checksumKey = manifestKey.replace(/manifest\.json$/, 'manifest.checksum');
  requireDelivery(destination, [...files.map((f) => f.key), manifestKey, checksumKey], sourceName, accountId);
  for (const f of files) write(storage, destination, f.key, f.body, now, 'application/octet-stream');
  // The manifest last: a reader who finds it finds every file it names.
  const checksum = createHash('md5').update(manifest).digest('hex');
  write(storage, destination, checksumKey, Buffer.from(checksum), now, 'text/plain');
  const record = write(storage, destination, manifestKey, manifest, now, 'application/json');
  return { bucket: destination.name, manifestKey, etag: record.etag, createdAt: now };
}
