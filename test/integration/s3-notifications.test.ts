import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { KEY_USER } from '@eaas/aws-local';
import { errorOf } from '@eaas/aws-local/testing/errors';
import type { S3EventRecord } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestStack, type TestStack } from '../helpers/local-stack.js';

let t: TestStack;
const events: S3EventRecord[] = [];
let failNext: 'throw' | 'reject' | undefined;

beforeAll(async () => {
  t = await startTestStack({
    onObjectCreated: async (record) => {
      events.push(record);
      const fail = failNext;
      failNext = undefined;
      if (fail === 'throw') throw new TypeError('seal handler broke');
      if (fail === 'reject') await Promise.reject(new Error('seal handler rejected'));
    },
  });
});
afterAll(async () => {
  await t.stop();
});
afterEach(() => {
  events.length = 0;
  vi.restoreAllMocks();
});

const delivered = () => t.stack.s3.notificationsDelivered();

describe('object-created notifications from the stack’s local S3', () => {
  it('one record per Put, shaped like AWS’s, after the object is readable', async () => {
    const s3 = t.s3();
    const put = await s3.send(
      new PutObjectCommand({ Bucket: 'eaas-staging', Key: 'incoming/my file (1).pdf', Body: 'pdf bytes' }),
    );
    await delivered();
    expect(events).toHaveLength(1);
    const record = events[0] as S3EventRecord;
    expect(record).toMatchObject({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'us-east-1',
      eventName: 'ObjectCreated:Put',
      userIdentity: { principalId: `AWS:${KEY_USER}` },
      requestParameters: { sourceIPAddress: '127.0.0.1' },
      s3: {
        s3SchemaVersion: '1.0',
        bucket: { name: 'eaas-staging', arn: 'arn:aws:s3:::eaas-staging' },
        object: { key: 'incoming/my+file+%281%29.pdf', size: 9, eTag: put.ETag?.slice(1, -1) },
      },
    });
    expect(Date.parse(record.eventTime)).not.toBeNaN();
    expect(record.responseElements['x-amz-request-id']).toBe(put.$metadata.requestId);
    expect(record.s3.object.sequencer).toMatch(/^[0-9A-F]{18}$/);
    // The key decodes back to the object, which is there to read.
    const key = decodeURIComponent(record.s3.object.key.replace(/\+/g, ' '));
    // Only the seal's role may read uploads (the staging bucket's policy).
    const got = await t.roleS3('seal').send(new GetObjectCommand({ Bucket: 'eaas-staging', Key: key }));
    expect(await got.Body?.transformToString()).toBe('pdf bytes');
  });

  it('Copy and CompleteMultipartUpload events; nothing for deletes or refused writes; sequencers grow', async () => {
    const s3 = t.s3();
    await s3.send(new PutObjectCommand({ Bucket: 'eaas-vault', Key: 'a', Body: 'a' }));
    await s3.send(new CopyObjectCommand({ Bucket: 'eaas-vault', Key: 'b', CopySource: 'eaas-vault/a' }));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'eaas-vault', Key: 'c' }));
    const part = await s3.send(
      new UploadPartCommand({ Bucket: 'eaas-vault', Key: 'c', UploadId, PartNumber: 1, Body: 'c' }),
    );
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'eaas-vault',
        Key: 'c',
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );
    await s3.send(new DeleteObjectCommand({ Bucket: 'eaas-vault', Key: 'a' }));
    await errorOf(
      s3.send(new PutObjectCommand({ Bucket: 'eaas-vault', Key: 'b', Body: 'x', IfNoneMatch: '*' })),
    );
    await delivered();
    expect(events.map((e) => [e.eventName, e.s3.object.key])).toEqual([
      ['ObjectCreated:Put', 'a'],
      ['ObjectCreated:Copy', 'b'],
      ['ObjectCreated:CompleteMultipartUpload', 'c'],
    ]);
    const sequencers = events.map((e) => e.s3.object.sequencer);
    expect([...sequencers].sort()).toEqual(sequencers);
    expect(new Set(sequencers).size).toBe(3);
  });

  it('a listener that throws or rejects is logged, never undoes the write, never reaches the client', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const s3 = t.s3();
    for (const mode of ['throw', 'reject'] as const) {
      failNext = mode;
      const put = await s3.send(
        new PutObjectCommand({ Bucket: 'eaas-staging', Key: `survives-${mode}`, Body: 'kept' }),
      );
      expect(put.$metadata.httpStatusCode).toBe(200);
      await delivered();
      const got = await s3.send(new GetObjectCommand({ Bucket: 'eaas-staging', Key: `survives-${mode}` }));
      expect(await got.Body?.transformToString()).toBe('kept');
    }
    const lines = logged.mock.calls.map((c) => String(c[0]));
    expect(lines.some((l) => l.includes('TypeError: seal handler broke'))).toBe(true);
    expect(lines.some((l) => l.includes('Error: seal handler rejected'))).toBe(true);
    expect(events).toHaveLength(2);
  });
});
