import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { downloadDocument, EaasClient, uploadDocument } from '@eaas/client';

/**
 * One transfer of bench/transfer.ts in a process of its own (bundled by esbuild, run by plain
 * node), so the peak RSS it answers is the client's alone: not the bench's harness, not tsx's
 * loader, not the stack. Argument: a JSON `TransferJob`; answer on stdout: `{seconds, sendSeconds, peakRssMiB}`
 * (`sendSeconds`: an upload's start until S3 took its last part, the rest being its completion).
 */

export type TransferOp = 'plainPut' | 'plainGet' | 'uploadService' | 'uploadClient' | 'download' | 'stream';

export interface TransferJob {
  op: TransferOp;
  apiEndpoint: string;
  s3Endpoint: string;
  user: { accessKeyId: string; secretAccessKey: string };
  service: { accessKeyId: string; secretAccessKey: string };
  /** The local file read (PUT, uploads) or written (GET, download, stream). */
  file: string;
  /** The S3 object key (plain rows) or document key. */
  key: string;
  size: number;
}

/** This process's peak resident set (VmHWM): the whole run's, as the process started just for it. */
function peakRssMiB(): number {
  return Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? Number.NaN) / 1024;
}

/** When the upload's last byte was taken by S3 (its progress at 100%), for the upload rows. */
let sentAt: number | undefined;

async function run(job: TransferJob): Promise<void> {
  const api = new EaasClient({ endpoint: job.apiEndpoint, credentials: job.user, timeoutMs: 120_000 });
  const s3 = new S3Client({
    endpoint: job.s3Endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: job.service,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  switch (job.op) {
    case 'plainPut':
      await s3.send(
        new PutObjectCommand({
          Bucket: 'eaas-vault',
          Key: job.key,
          Body: createReadStream(job.file),
          ContentLength: job.size,
        }),
      );
      return;
    case 'plainGet': {
      const out = await s3.send(new GetObjectCommand({ Bucket: 'eaas-vault', Key: job.key }));
      await pipeline(out.Body as Readable, createWriteStream(job.file));
      return;
    }
    case 'uploadService':
    case 'uploadClient': {
      const status = await uploadDocument(
        api,
        { key: job.key, keyId: 'alias/eaas-default', file: job.file },
        {
          seal: job.op === 'uploadClient' ? 'client' : 'service',
          onProgress: ({ sentBytes, totalBytes }) => {
            if (sentBytes === totalBytes) sentAt ??= performance.now();
          },
        },
      );
      if (status.state !== 'sealed') throw new Error(`upload ended ${status.state}`);
      return;
    }
    case 'download':
      await downloadDocument(api, job.key, job.file);
      return;
    case 'stream': {
      const { body } = await api.documents.stream(job.key);
      await pipeline(body, createWriteStream(job.file));
      return;
    }
  }
}

const job = JSON.parse(process.argv[2] ?? '{}') as TransferJob;
const t0 = performance.now();
run(job).then(
  () => {
    const seconds = (performance.now() - t0) / 1000;
    const sendSeconds = sentAt === undefined ? undefined : (sentAt - t0) / 1000;
    process.stdout.write(`${JSON.stringify({ seconds, sendSeconds, peakRssMiB: peakRssMiB() })}\n`);
    process.exit(0);
  },
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
