import { ListKeysCommand } from '@aws-sdk/client-kms';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestKms, type TestKms } from '../helpers/local-kms.js';
import { startTestS3, type TestS3 } from '../helpers/local-s3.js';

/** The latency setting of the local S3 and KMS (benchmarks): each request waits that long; off by default. */

const LATENCY_MS = 150;
let slowS3: TestS3;
let fastS3: TestS3;
let slowKms: TestKms;
let fastKms: TestKms;

beforeAll(async () => {
  [slowS3, fastS3, slowKms, fastKms] = await Promise.all([
    startTestS3({ latencyMs: LATENCY_MS }),
    startTestS3(),
    startTestKms({ latencyMs: LATENCY_MS }),
    startTestKms(),
  ]);
});
afterAll(async () => {
  await Promise.all([slowS3?.stop(), fastS3?.stop(), slowKms?.stop(), fastKms?.stop()]);
});

async function timed(run: () => Promise<unknown>): Promise<number> {
  await run(); // a first request opens the connection
  const start = performance.now();
  await run();
  return performance.now() - start;
}

describe('EAAS_LOCAL_LATENCY_MS: the local S3 and KMS wait before each request', () => {
  it('the local S3', async () => {
    const list = (t: TestS3) => () => t.client().send(new ListObjectsV2Command({ Bucket: 'eaas-vault' }));
    expect(await timed(list(slowS3))).toBeGreaterThanOrEqual(LATENCY_MS - 5);
    expect(await timed(list(fastS3))).toBeLessThan(LATENCY_MS - 5);
  });

  it('the local KMS', async () => {
    const list = (t: TestKms) => () => t.client().send(new ListKeysCommand({}));
    expect(await timed(list(slowKms))).toBeGreaterThanOrEqual(LATENCY_MS - 5);
    expect(await timed(list(fastKms))).toBeLessThan(LATENCY_MS - 5);
  });
});
