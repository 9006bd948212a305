import { createHash, randomFillSync } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { KEY_USER, LocalIdentities, SERVICE } from '@eaas/aws-local';
import { downloadDocument, EaasClient, uploadDocument } from '@eaas/client';
import { type BenchStack, startBenchStack } from './stack.js';

const MiB = 1024 * 1024;

export interface TransferRow {
  name: string;
  seconds: number;
  mibPerSecond: number;
  /** This row's throughput over the plain S3 transfer of the same bytes in the same run. */
  vsPlain?: number | undefined;
  /** Peak resident set of the stack process during this transfer alone. */
  stackPeakRssMiB: number;
  /** Peak resident set of this process (the client) during this transfer alone. */
  clientPeakRssMiB: number;
}

/** This process's peak RSS since the last `clear_refs` 5 (VmHWM). */
function ownPeakRss(): number {
  const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? Number.NaN);
  return kb * 1024;
}

export interface TransferResult {
  sizeMiB: number;
  rows: TransferRow[];
  /** Peak resident set of the stack process (local KMS, S3, gateway and every function, seal included) over the API's transfers. */
  stackPeakRssMiB: number;
  stackRssBeforeMiB: number;
  /** Peak resident set of this process, the client (uploads from and downloads to files), over the API's transfers. */
  clientPeakRssMiB: number;
}

/** A file of `size` random-looking bytes (one random 8 MiB block, each copy stamped with its index). */
export async function makeFile(path: string, size: number): Promise<void> {
  const block = randomFillSync(Buffer.alloc(8 * MiB));
  let written = 0;
  let index = 0;
  await pipeline(
    new Readable({
      read() {
        if (written >= size) {
          this.push(null);
          return;
        }
        const n = Math.min(block.length, size - written);
        const copy = Buffer.from(block.subarray(0, n));
        copy.writeUInt32BE(index++, 0);
        written += n;
        this.push(copy);
      },
    }),
    createWriteStream(path),
  );
}

export async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

async function timed(
  stack: BenchStack,
  name: string,
  bytes: number,
  run: () => Promise<unknown>,
): Promise<TransferRow> {
  stack.resetPeakRss();
  writeFileSync('/proc/self/clear_refs', '5');
  const t0 = performance.now();
  await run();
  const seconds = (performance.now() - t0) / 1000;
  return {
    name,
    seconds,
    mibPerSecond: bytes / MiB / seconds,
    stackPeakRssMiB: stack.peakRssBytes() / MiB,
    clientPeakRssMiB: ownPeakRss() / MiB,
  };
}

/**
 * A document of `BENCH_TRANSFER_MIB` (default 1024) MiB uploaded through the API (presigned parts
 * into staging, sealed into the vault; and sealed in the client, ciphertext parts straight into
 * the vault) and downloaded (presigned GET, decrypted in the client),
 * beside a plain S3 PUT and GET of the same file to the same local S3 in the same run; the peak
 * RSS of the stack process and of the client.
 */
export async function benchTransfer(
  sizeMiB = Number(process.env.BENCH_TRANSFER_MIB ?? 1024),
): Promise<TransferResult> {
  const size = sizeMiB * MiB;
  const work = mkdtempSync(join(tmpdir(), 'eaas-bench-transfer-'));
  const stack = await startBenchStack({ EAAS_SWEEP_SECONDS: '0' }, { compiled: true });
  try {
    const input = join(work, 'document.bin');
    await makeFile(input, size);
    const expected = await sha256(input);
    const ids = LocalIdentities.open(stack.dataDir, '111122223333', 'us-east-1');
    const user = ids.byName(KEY_USER);
    const service = ids.byName(SERVICE);
    const api = new EaasClient({ endpoint: stack.apiEndpoint, credentials: user, timeoutMs: 120_000 });
    const s3 = new S3Client({
      endpoint: stack.s3Endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: service.accessKeyId, secretAccessKey: service.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const rssBefore = stack.rssBytes();

    const plainPut = await timed(stack, 'plain S3 PUT (baseline)', size, () =>
      s3.send(
        new PutObjectCommand({
          Bucket: 'eaas-vault',
          Key: 'bench/plain.bin',
          Body: createReadStream(input),
          ContentLength: size,
        }),
      ),
    );
    const plainOut = join(work, 'plain.out');
    const plainGet = await timed(stack, 'plain S3 GET (baseline)', size, async () => {
      const out = await s3.send(new GetObjectCommand({ Bucket: 'eaas-vault', Key: 'bench/plain.bin' }));
      await pipeline(out.Body as Readable, createWriteStream(plainOut));
    });
    rmSync(plainOut);

    const upload = await timed(
      stack,
      'upload via API: parts to staging + seal into vault',
      size,
      async () => {
        const status = await uploadDocument(api, {
          key: 'bench/document.bin',
          keyId: 'alias/eaas-default',
          file: input,
        });
        if (status.state !== 'sealed') throw new Error(`upload ended ${status.state}`);
      },
    );
    // Sealed in the client: encrypted in this process, the ciphertext PUT straight into the vault.
    const clientSealed = await timed(
      stack,
      'upload via API, sealed in the client: ciphertext parts into the vault',
      size,
      async () => {
        const status = await uploadDocument(
          api,
          { key: 'bench/document-client.bin', keyId: 'alias/eaas-default', file: input },
          { seal: 'client' },
        );
        if (status.state !== 'sealed') throw new Error(`upload ended ${status.state}`);
      },
    );
    const output = join(work, 'document.out');
    await downloadDocument(api, 'bench/document-client.bin', output);
    if (statSync(output).size !== size || (await sha256(output)) !== expected)
      throw new Error('the client-sealed document differs from the uploaded one');
    rmSync(output);
    const download = await timed(stack, 'download via API: presigned GET + decrypt in client', size, () =>
      downloadDocument(api, 'bench/document.bin', output),
    );
    if (statSync(output).size !== size || (await sha256(output)) !== expected)
      throw new Error('the downloaded document differs from the uploaded one');
    s3.destroy();

    upload.vsPlain = upload.mibPerSecond / plainPut.mibPerSecond;
    clientSealed.vsPlain = clientSealed.mibPerSecond / plainPut.mibPerSecond;
    download.vsPlain = download.mibPerSecond / plainGet.mibPerSecond;
    const result: TransferResult = {
      sizeMiB,
      rows: [plainPut, upload, clientSealed, plainGet, download],
      stackRssBeforeMiB: rssBefore / MiB,
      stackPeakRssMiB: Math.max(
        upload.stackPeakRssMiB,
        clientSealed.stackPeakRssMiB,
        download.stackPeakRssMiB,
      ),
      clientPeakRssMiB: Math.max(
        upload.clientPeakRssMiB,
        clientSealed.clientPeakRssMiB,
        download.clientPeakRssMiB,
      ),
    };
    console.log(`\n## Documents of ${sizeMiB} MiB through the local stack (same file, same run)\n`);
    const header = [
      'transfer',
      'seconds',
      'MiB/s',
      'vs plain S3',
      'stack peak RSS MiB',
      'client peak RSS MiB',
    ];
    const lines = result.rows.map((r) => [
      r.name,
      r.seconds.toFixed(2),
      r.mibPerSecond.toFixed(1),
      r.vsPlain === undefined ? '1.00x' : `${r.vsPlain.toFixed(2)}x`,
      r.stackPeakRssMiB.toFixed(0),
      r.clientPeakRssMiB.toFixed(0),
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
    for (const line of [header, ...lines])
      console.log(
        line
          .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
          .join('  '),
      );
    console.log(
      `stack process (KMS, S3, gateway, functions) peak RSS over the API's upload and download ${result.stackPeakRssMiB.toFixed(0)} MiB (${result.stackRssBeforeMiB.toFixed(0)} MiB before the transfers); client process peak RSS over them ${result.clientPeakRssMiB.toFixed(0)} MiB`,
    );
    return result;
  } finally {
    await stack.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

// `npx tsx bench/transfer.ts [MiB]`: this benchmark alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  benchTransfer(process.argv[2] ? Number(process.argv[2]) : undefined).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
