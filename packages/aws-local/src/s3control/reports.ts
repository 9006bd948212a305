import { createHash } from 'node:crypto';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { JobRecord, Task } from './job.js';

/**
 * The completion report, in the format of
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-examples-reports.html:
 * `<prefix>/job-<id>/manifest.json` naming one CSV of succeeded tasks and one of failed tasks
 * under `<prefix>/job-<id>/results/`, each row
 * `Bucket,Key,VersionId,TaskStatus,HTTPStatusCode,ErrorCode,"ResultMessage"` as the examples
 * show them (`bucket,key,,succeeded,200,,"..."`; `bucket,key,,failed,200,PermanentFailure,"..."`),
 * the manifest's ReportSchema naming the columns as AWS does. A FailedTasksOnly report leaves
 * the succeeded file out. The generated manifest of a ManifestGenerator
 * (EnableManifestOutput) is written by writeGeneratedManifest.
 */

/**
 * A key as S3 Batch Operations writes it into a task's `s3Key`, a completion report and a generated
 * manifest: URL-encoded in the form style, a space as `+` and a `+` as `%2B` (S3's key encoding in
 * events, https://docs.aws.amazon.com/lambda/latest/dg/with-s3.html: "red flower.jpg" becomes
 * "red+flower.jpg"; Batch Operations' `s3Key` decodes with Python's `unquote_plus`), so that a
 * function that decodes as AWS encodes finds the same object here.
 */
export const encodeKey = (key: string) => encodeURIComponent(key).replace(/%20/g, '+');

export const bucketOfArn = (arn: string) => arn.slice(arn.indexOf(':::') + 3);

const csvCell = (value: string) => (/[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);

function row(task: Task): string {
  const o = task.outcome;
  return [
    csvCell(task.bucket),
    csvCell(encodeKey(task.key)),
    csvCell(task.versionId ?? ''),
    o?.status ?? 'failed',
    '200',
    csvCell(o?.errorCode ?? ''),
    `"${(o?.resultMessage ?? '').replace(/"/g, '""')}"`,
  ].join(',');
}

function prefixed(prefix: string | undefined, rest: string): string {
  const p = (prefix ?? '').replace(/\/+$/, '');
  return p === '' ? rest : `${p}/${rest}`;
}

async function put(s3: S3Client, bucket: string, key: string, body: string): Promise<string> {
  const out = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  return (out.ETag ?? '').replace(/"/g, '');
}

/** Writes the job's completion report; the keys of its manifest.json and files. */
export async function writeReport(s3: S3Client, job: JobRecord, now: Date): Promise<string> {
  const report = job.spec.Report;
  const bucket = bucketOfArn(report.Bucket ?? '');
  const base = prefixed(report.Prefix, `job-${job.JobId}`);
  const tasks = job.tasks ?? [];
  const groups: { status: 'succeeded' | 'failed'; rows: string[] }[] = [
    { status: 'succeeded', rows: [] },
    { status: 'failed', rows: [] },
  ];
  for (const t of tasks) {
    if (!t.outcome) continue;
    groups[t.outcome.status === 'succeeded' ? 0 : 1]?.rows.push(row(t));
  }
  const results = [];
  for (const g of groups) {
    if (g.rows.length === 0) continue;
    if (g.status === 'succeeded' && report.ReportScope === 'FailedTasksOnly') continue;
    const body = `${g.rows.join('\n')}\n`;
    const name = createHash('sha1').update(`${job.JobId}:${g.status}`).digest('hex');
    const key = `${base}/results/${name}.csv`;
    await put(s3, bucket, key, body);
    results.push({
      TaskExecutionStatus: g.status,
      Bucket: bucket,
      MD5Checksum: createHash('md5').update(body).digest('hex'),
      Key: key,
    });
  }
  const manifestKey = `${base}/manifest.json`;
  await put(
    s3,
    bucket,
    manifestKey,
    JSON.stringify({
      Format: 'Report_CSV_20180820',
      ReportCreationDate: now.toISOString(),
      Results: results,
      ReportSchema: 'Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage',
    }),
  );
  return manifestKey;
}

/**
 * The manifest a ManifestGenerator made, written where ManifestOutputLocation says, as an
 * S3InventoryReport_CSV_20211130 manifest (a manifest.json naming CSV files of `Bucket,Key`),
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_S3ManifestOutputLocation.html.
 * Answers the GeneratedManifestDescriptor.
 */
export async function writeGeneratedManifest(
  s3: S3Client,
  job: JobRecord,
  now: Date,
): Promise<NonNullable<JobRecord['GeneratedManifestDescriptor']>> {
  const generator = job.spec.ManifestGenerator;
  const out = generator?.ManifestOutputLocation;
  if (!generator || !out) throw new Error('no manifest output location');
  const bucket = bucketOfArn(out.Bucket);
  const base = prefixed(out.ManifestPrefix, `job-${job.JobId}`);
  const body = (job.tasks ?? [])
    .map((t) => `${csvCell(t.bucket)},${csvCell(encodeKey(t.key))}`)
    .join('\n')
    .concat('\n');
  const dataKey = `${base}/manifest-data/${createHash('sha1').update(job.JobId).digest('hex')}.csv`;
  await put(s3, bucket, dataKey, body);
  const manifestKey = `${base}/manifest.json`;
  const etag = await put(
    s3,
    bucket,
    manifestKey,
    JSON.stringify({
      sourceBucket: bucketOfArn(generator.SourceBucket),
      destinationBucket: out.Bucket,
      version: '2021-11-30',
      creationTimestamp: String(now.getTime()),
      fileFormat: 'CSV',
      fileSchema: 'Bucket, Key',
      files: [
        {
          key: dataKey,
          size: Buffer.byteLength(body),
          MD5checksum: createHash('md5').update(body).digest('hex'),
        },
      ],
    }),
  );
  return {
    Format: out.ManifestFormat,
    Location: { ObjectArn: `arn:aws:s3:::${bucket}/${manifestKey}`, ETag: etag },
  };
}
