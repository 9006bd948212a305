import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import {
  DeleteBucketInventoryConfigurationCommand,
  GetBucketInventoryConfigurationCommand,
  GetObjectCommand,
  type InventoryConfiguration,
  ListBucketInventoryConfigurationsCommand,
  PutBucketInventoryConfigurationCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestS3, type TestS3 } from '../helpers/local-s3.js';

/**
 * S3 Inventory in the local S3 through @aws-sdk/client-s3: the configurations' CRUD with S3's
 * errors, and a report delivered on demand in AWS's layout, only where the destination's bucket
 * policy lets s3.amazonaws.com write.
 */

let t: TestS3;
const VAULT = 'eaas-vault';
const DEST = 'eaas-staging';

const config = (id: string, over: Partial<InventoryConfiguration> = {}): InventoryConfiguration => ({
  Id: id,
  IsEnabled: true,
  Destination: {
    S3BucketDestination: { Bucket: `arn:aws:s3:::${DEST}`, Format: 'CSV', Prefix: 'inventory' },
  },
  IncludedObjectVersions: 'Current',
  OptionalFields: ['Size', 'ETag'],
  Schedule: { Frequency: 'Daily' },
  ...over,
});

/** The destination policy AWS's example gives: S3 may put objects under the prefix, for the source bucket. */
const deliveryPolicy = (resource: string) =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'InventoryWrites',
        Effect: 'Allow',
        Principal: { Service: 's3.amazonaws.com' },
        Action: 's3:PutObject',
        Resource: resource,
        Condition: {
          ArnLike: { 'aws:SourceArn': `arn:aws:s3:::${VAULT}` },
          StringEquals: {
            'aws:SourceAccount': t.config.accountId,
            's3:x-amz-acl': 'bucket-owner-full-control',
          },
        },
      },
    ],
  });

async function bytes(bucket: string, key: string): Promise<Buffer> {
  const got = await t.client().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from((await got.Body?.transformToByteArray()) ?? []);
}

beforeAll(async () => {
  t = await startTestS3();
});
afterAll(async () => {
  await t.stop();
});

describe('inventory configurations', () => {
  it('are put, read, listed and deleted as S3 answers them, with its errors', async () => {
    const c = t.client();
    await c.send(
      new PutBucketInventoryConfigurationCommand({
        Bucket: VAULT,
        Id: 'crud-b',
        InventoryConfiguration: config('crud-b', { Filter: { Prefix: 'docs/' } }),
      }),
    );
    await c.send(
      new PutBucketInventoryConfigurationCommand({
        Bucket: VAULT,
        Id: 'crud-a',
        InventoryConfiguration: config('crud-a'),
      }),
    );
    const got = await c.send(new GetBucketInventoryConfigurationCommand({ Bucket: VAULT, Id: 'crud-b' }));
    expect(got.InventoryConfiguration).toEqual(config('crud-b', { Filter: { Prefix: 'docs/' } }));
    const listed = await c.send(new ListBucketInventoryConfigurationsCommand({ Bucket: VAULT }));
    expect(listed.IsTruncated).toBe(false);
    expect(listed.InventoryConfigurationList?.map((i) => i.Id)).toEqual(['crud-a', 'crud-b']);
    await c.send(new DeleteBucketInventoryConfigurationCommand({ Bucket: VAULT, Id: 'crud-a' }));
    await c.send(new DeleteBucketInventoryConfigurationCommand({ Bucket: VAULT, Id: 'crud-b' }));
    await expect(
      c.send(new GetBucketInventoryConfigurationCommand({ Bucket: VAULT, Id: 'crud-a' })),
    ).rejects.toMatchObject({ name: 'NoSuchConfiguration', $metadata: { httpStatusCode: 404 } });
    await expect(
      c.send(new DeleteBucketInventoryConfigurationCommand({ Bucket: VAULT, Id: 'crud-a' })),
    ).rejects.toMatchObject({ name: 'NoSuchConfiguration', $metadata: { httpStatusCode: 404 } });
    // An Id other than the request's, a destination that is no bucket ARN, an unknown field.
    for (const bad of [
      config('other'),
      config('bad', { Destination: { S3BucketDestination: { Bucket: DEST, Format: 'CSV' } } }),
      config('bad', { OptionalFields: ['Colour' as never] }),
    ])
      await expect(
        c.send(
          new PutBucketInventoryConfigurationCommand({
            Bucket: VAULT,
            Id: 'bad',
            InventoryConfiguration: bad,
          }),
        ),
      ).rejects.toMatchObject({ name: 'InvalidArgument', $metadata: { httpStatusCode: 400 } });
    expect(
      (await c.send(new ListBucketInventoryConfigurationsCommand({ Bucket: VAULT })))
        .InventoryConfigurationList,
    ).toBeUndefined();
  });
});

describe('inventory reports', () => {
  it('are delivered on demand in AWS layout, only where the destination policy lets S3 write', async () => {
    const c = t.client();
    for (const key of ['docs/a b.txt', 'docs/c,"d".txt', 'jobs/j.json'])
      await c.send(new PutObjectCommand({ Bucket: VAULT, Key: key, Body: `body of ${key}` }));
    await c.send(
      new PutBucketInventoryConfigurationCommand({
        Bucket: VAULT,
        Id: 'all',
        InventoryConfiguration: config('all'),
      }),
    );
    // No policy on the destination: S3 may not write there, nothing is delivered.
    expect(() => t.s3.deliverInventoryReport(VAULT, 'all')).toThrow(/does not allow s3.amazonaws.com/);
    // A policy for another prefix is not enough either.
    await c.send(
      new PutBucketPolicyCommand({
        Bucket: DEST,
        Policy: deliveryPolicy(`arn:aws:s3:::${DEST}/elsewhere/*`),
      }),
    );
    expect(() => t.s3.deliverInventoryReport(VAULT, 'all')).toThrow(/does not allow/);
    await c.send(
      new PutBucketPolicyCommand({
        Bucket: DEST,
        Policy: deliveryPolicy(`arn:aws:s3:::${DEST}/inventory/*`),
      }),
    );
    const delivered = t.s3.deliverInventoryReport(VAULT, 'all');
    expect(delivered.manifestKey).toMatch(
      /^inventory\/eaas-vault\/all\/\d{4}-\d\d-\d\dT\d\d-\d\dZ\/manifest\.json$/,
    );
    const manifestBody = await bytes(DEST, delivered.manifestKey);
    const manifest = JSON.parse(manifestBody.toString()) as {
      sourceBucket: string;
      destinationBucket: string;
      fileFormat: string;
      fileSchema: string;
      files: { key: string; size: number; MD5checksum: string }[];
    };
    expect(manifest).toMatchObject({
      sourceBucket: VAULT,
      destinationBucket: `arn:aws:s3:::${DEST}`,
      version: '2016-11-30',
      fileFormat: 'CSV',
      fileSchema: 'Bucket, Key, Size, ETag',
    });
    const checksum = (await bytes(DEST, delivered.manifestKey.replace(/json$/, 'checksum'))).toString();
    expect(checksum).toBe(createHash('md5').update(manifestBody).digest('hex'));
    expect(delivered.etag).toBe(checksum);
    const rows: string[] = [];
    for (const f of manifest.files) {
      expect(f.key).toMatch(/^inventory\/eaas-vault\/all\/data\/[0-9a-f-]{36}\.csv\.gz$/);
      const body = await bytes(DEST, f.key);
      expect(body.length).toBe(f.size);
      expect(createHash('md5').update(body).digest('hex')).toBe(f.MD5checksum);
      rows.push(...gunzipSync(body).toString().trim().split('\n'));
    }
    const etag = (key: string) => createHash('md5').update(`body of ${key}`).digest('hex');
    const row = (key: string) =>
      `"${VAULT}","${encodeURIComponent(key).replace(/"/g, '""')}","${Buffer.byteLength(`body of ${key}`)}","${etag(key)}"`;
    expect(rows).toEqual([row('docs/a b.txt'), row('docs/c,"d".txt'), row('jobs/j.json')]);
    // A prefix filter, and a disabled configuration.
    await c.send(
      new PutBucketInventoryConfigurationCommand({
        Bucket: VAULT,
        Id: 'docs',
        InventoryConfiguration: config('docs', { Filter: { Prefix: 'docs/' }, OptionalFields: [] }),
      }),
    );
    const docs = t.s3.deliverInventoryReport(VAULT, 'docs');
    const docsManifest = JSON.parse((await bytes(DEST, docs.manifestKey)).toString()) as {
      fileSchema: string;
      files: { key: string }[];
    };
    expect(docsManifest.fileSchema).toBe('Bucket, Key');
    const docsRows = gunzipSync(await bytes(DEST, docsManifest.files[0]?.key ?? ''))
      .toString()
      .trim()
      .split('\n');
    expect(docsRows).toHaveLength(2);
    await c.send(
      new PutBucketInventoryConfigurationCommand({
        Bucket: VAULT,
        Id: 'off',
        InventoryConfiguration: config('off', { IsEnabled: false }),
      }),
    );
    expect(() => t.s3.deliverInventoryReport(VAULT, 'off')).toThrow(/not enabled/);
    expect(() => t.s3.deliverInventoryReport(VAULT, 'nope')).toThrow(/does not exist/);
    // A Deny to S3 on the destination wins over the Allow.
    const allow = JSON.parse(deliveryPolicy(`arn:aws:s3:::${DEST}/inventory/*`)) as { Statement: unknown[] };
    const deny = {
      Effect: 'Deny',
      Principal: '*',
      Action: 's3:PutObject',
      Resource: `arn:aws:s3:::${DEST}/inventory/*`,
    };
    await c.send(
      new PutBucketPolicyCommand({
        Bucket: DEST,
        Policy: JSON.stringify({ ...allow, Statement: [...allow.Statement, deny] }),
      }),
    );
    expect(() => t.s3.deliverInventoryReport(VAULT, 'docs')).toThrow(/does not allow/);
  });
});
