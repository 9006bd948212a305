import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { CreateKeyCommand, GenerateDataKeyWithoutPlaintextCommand, KMSClient } from '@aws-sdk/client-kms';
import { CopyObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { LocalIdentities, SERVICE } from '@eaas/aws-local';
import { KmsKeyAdmin } from '../src/aws/kms-admin.js';
import { S3JobObjects } from '../src/aws/s3-jobs.js';
import { SCHEDULED_BY } from '../src/core/rewrap-job.js';
import { AccessControl } from '../src/services/access.js';
import { RewrapService } from '../src/services/rewrap.js';
import { startBenchStack } from './stack.js';

/**
 * Re-wrap throughput of a re-encryption job (objects/s) for many small and fewer large documents,
 * the job in this process against the local stack (KMS and S3) in its own. The job never reads a
 * body, so the per-object cost should not grow with the size beyond the local S3's own in-place
 * copy. `BENCH_REWRAP_LARGE_MIB` and `BENCH_REWRAP_LARGE_COUNT` scale the large case down.
 */

const MiB = 1024 * 1024;
const VAULT = 'eaas-vault';

export interface RewrapRow {
  name: string;
  objects: number;
  objectBytes: number;
  seconds: number;
  objectsPerSecond: number;
  rewrapped: number;
  failed: number;
}

export interface RewrapResult {
  rows: RewrapRow[];
  /** Per-object time of the large case over that of the small case (1 = no growth with size). */
  perObjectCostRatio: number;
}

/** An S3EC V3 header over a data key KMS wrapped (no plaintext key anywhere); the body is never opened. */
export async function headerUnder(kms: KMSClient, keyId: string): Promise<Record<string, string>> {
  const context = { 'aws:x-amz-cek-alg': '115' };
  const dk = await kms.send(
    new GenerateDataKeyWithoutPlaintextCommand({
      KeyId: keyId,
      KeySpec: 'AES_256',
      EncryptionContext: context,
    }),
  );
  return {
    'x-amz-c': '115',
    'x-amz-3': Buffer.from(dk.CiphertextBlob ?? new Uint8Array()).toString('base64'),
    'x-amz-w': '12',
    'x-amz-t': JSON.stringify(context),
    'x-amz-d': randomBytes(28).toString('base64'),
    'x-amz-i': randomBytes(28).toString('base64'),
    'eaas-key-arn': dk.KeyId ?? '',
    'eaas-wrapped-at': new Date().toISOString(),
  };
}

export async function benchRewrap(): Promise<RewrapResult> {
  const largeMiB = Number(process.env.BENCH_REWRAP_LARGE_MIB ?? 64);
  const largeCount = Number(process.env.BENCH_REWRAP_LARGE_COUNT ?? 100);
  const stack = await startBenchStack({ EAAS_REWRAP_TICK_SECONDS: '0' });
  try {
    const ids = LocalIdentities.open(stack.dataDir, '111122223333', 'us-east-1');
    const credentials = ids.byName(SERVICE);
    const kms = new KMSClient({ endpoint: stack.kmsEndpoint, region: 'us-east-1', credentials });
    const s3 = new S3Client({
      endpoint: stack.s3Endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials,
    });
    const keyA =
      (await kms.send(new CreateKeyCommand({ Description: 'bench source' }))).KeyMetadata?.Arn ?? '';
    const keyB =
      (await kms.send(new CreateKeyCommand({ Description: 'bench destination' }))).KeyMetadata?.Arn ?? '';
    const admin = new KmsKeyAdmin(kms);
    const service = new RewrapService(
      admin,
      admin,
      new AccessControl(admin),
      new S3JobObjects(s3, VAULT),
      new S3JobObjects(s3, VAULT),
      { pageSize: 100, kmsPerSecond: 0 },
    );

    const seed = async (prefix: string, count: number, size: number) => {
      // The first object is uploaded; the others are server-side copies of it with headers of their own.
      const first = `${prefix}0`;
      await s3.send(
        new PutObjectCommand({
          Bucket: VAULT,
          Key: first,
          Body: randomBytes(size),
          Metadata: await headerUnder(kms, keyA),
        }),
      );
      let next = 1;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < count) {
            const key = `${prefix}${next++}`;
            await s3.send(
              new CopyObjectCommand({
                Bucket: VAULT,
                Key: key,
                CopySource: `${VAULT}/${first}`,
                MetadataDirective: 'REPLACE',
                Metadata: await headerUnder(kms, keyA),
              }),
            );
          }
        }),
      );
    };
    const run = async (name: string, prefix: string, count: number, size: number): Promise<RewrapRow> => {
      await seed(prefix, count, size);
      const job = await service.create(
        {
          mode: 'source-key',
          sourceKeyArn: keyA,
          destinationKeyArn: keyB,
          prefix,
          dryRun: false,
          concurrency: 16,
        },
        // An operator's campaign, with the service's authority: the keys have the default policy,
        // which names no administrator the job's per-object check could find.
        SCHEDULED_BY,
      );
      const t0 = performance.now();
      const done = await service.run(job.id);
      const seconds = (performance.now() - t0) / 1000;
      const failed = Object.values(done?.counts.failed ?? {}).reduce((a, b) => a + b, 0);
      return {
        name,
        objects: count,
        objectBytes: size,
        seconds,
        objectsPerSecond: count / seconds,
        rewrapped: done?.counts.rewrapped ?? 0,
        failed,
      };
    };
    // Warm-up (connections, JIT), not reported.
    await run('warm-up', 'warm/', 50, 1024);
    const small = await run('1,000 x 1 KiB', 'small/', 1000, 1024);
    const large = await run(`${largeCount} x ${largeMiB} MiB`, 'large/', largeCount, largeMiB * MiB);
    kms.destroy();
    s3.destroy();
    const result: RewrapResult = {
      rows: [small, large],
      perObjectCostRatio: small.objectsPerSecond / large.objectsPerSecond,
    };
    console.log(
      '\nre-encryption job: re-wrap throughput (job in this process, local KMS and S3 in the stack process)',
    );
    for (const r of result.rows)
      console.log(
        `  ${r.name.padEnd(18)} ${r.objectsPerSecond.toFixed(0).padStart(6)} objects/s  (${r.seconds.toFixed(2)} s, re-wrapped ${r.rewrapped}, failed ${r.failed})`,
      );
    console.log(`  per-object cost, large over small: ${result.perObjectCostRatio.toFixed(2)}`);
    return result;
  } finally {
    await stack.stop();
  }
}
