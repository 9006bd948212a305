import { spawn } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { KEY_USER, LocalIdentities, SERVICE } from '@eaas/aws-local';
import { type BenchStack, bundleForNode, startBenchStack } from './stack.js';
import type { TransferJob } from './transfer-client.js';

const MiB = 1024 * 1024;

export interface TransferRow {
  name: string;
  seconds: number;
  mibPerSecond: number;
  /** This row's throughput over its baseline's (the plain S3 transfer of the same bytes in the same run). */
  vsPlain?: number | undefined;
  /** Peak resident set of the stack process during this transfer alone. */
  stackPeakRssMiB: number;
  /** Peak resident set of the client: a process started for this transfer alone (bench/transfer-client.ts). */
  clientPeakRssMiB: number;
  /** Uploads: from the start until S3 took the last part; the rest is the completion (and the seal). */
  sendSeconds?: number | undefined;
}

export interface TransferResult {
  sizeMiB: number;
  streamSizeMiB: number;
  rows: TransferRow[];
  stackRssBeforeMiB: number;
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

/** Where the client's process is bundled (see `bundleForNode`). */
const CLIENT_BUNDLE = '.bench-build/transfer-client.mjs';

/** Runs one transfer in a client process of its own; its time and peak RSS, and the stack's peak RSS meanwhile. */
async function timed(
  stack: BenchStack,
  name: string,
  job: Omit<TransferJob, 'apiEndpoint' | 's3Endpoint' | 'user' | 'service'>,
  who: Pick<TransferJob, 'user' | 'service'>,
): Promise<TransferRow> {
  stack.resetPeakRss();
  const full: TransferJob = { ...job, ...who, apiEndpoint: stack.apiEndpoint, s3Endpoint: stack.s3Endpoint };
  const child = spawn(process.execPath, [CLIENT_BUNDLE, JSON.stringify(full)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString('utf8');
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`${name}: the client process exited ${code}`);
  const answer = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as {
    seconds: number;
    sendSeconds?: number;
    peakRssMiB: number;
  };
  return {
    name,
    seconds: answer.seconds,
    mibPerSecond: job.size / MiB / answer.seconds,
    stackPeakRssMiB: stack.peakRssBytes() / MiB,
    clientPeakRssMiB: answer.peakRssMiB,
    sendSeconds: answer.sendSeconds,
  };
}

/** Throws unless `path` holds `size` bytes hashing to `expected`; then removes it. */
async function checkOutput(path: string, size: number, expected: string, what: string): Promise<void> {
  if (statSync(path).size !== size || (await sha256(path)) !== expected)
    throw new Error(`${what} wrote other bytes than were uploaded`);
  rmSync(path);
}

/**
 * A document of `BENCH_TRANSFER_MIB` (default 1024) MiB uploaded through the API (sealed by the
 * service: presigned parts into staging, sealed into the vault; sealed in the client: ciphertext
 * parts straight into the vault) and downloaded (presigned GET, decrypted in the client), beside a
 * plain S3 PUT and GET of the same file to the same local S3 in the same run; and the streamed
 * read (`GET /v1/streams/{key}`, at most 200 MB) of a smaller document beside its plain GET. Each
 * transfer runs in a client process of its own (bench/transfer-client.ts, bundled): the client's
 * peak RSS is that process's, the stack's is the stack process's (KMS, S3, gateway, functions).
 */
export async function benchTransfer(
  sizeMiB = Number(process.env.BENCH_TRANSFER_MIB ?? 1024),
): Promise<TransferResult> {
  const size = sizeMiB * MiB;
  // The streamed route answers up to 200 MB (src/handlers/streams.ts).
  const streamSizeMiB = Math.min(sizeMiB, 180);
  const streamSize = streamSizeMiB * MiB;
  const work = mkdtempSync(join(tmpdir(), 'eaas-bench-transfer-'));
  await bundleForNode('bench/transfer-client.ts', CLIENT_BUNDLE);
  const stack = await startBenchStack({ EAAS_SWEEP_SECONDS: '0' }, { compiled: true });
  try {
    const input = join(work, 'document.bin');
    await makeFile(input, size);
    const expected = await sha256(input);
    const small = join(work, 'stream.bin');
    await makeFile(small, streamSize);
    const expectedSmall = await sha256(small);
    const ids = LocalIdentities.open(stack.dataDir, '111122223333', 'us-east-1');
    const who = { user: ids.byName(KEY_USER), service: ids.byName(SERVICE) };
    const output = join(work, 'out.bin');
    const rssBefore = stack.rssBytes();

    const plainPut = await timed(
      stack,
      'plain S3 PUT (baseline)',
      { op: 'plainPut', file: input, key: 'bench/plain.bin', size },
      who,
    );
    const service = await timed(
      stack,
      'upload, sealed by the service: parts to staging + seal into vault',
      { op: 'uploadService', file: input, key: 'bench/service.bin', size },
      who,
    );
    const client = await timed(
      stack,
      'upload, sealed in the client: ciphertext parts into the vault',
      { op: 'uploadClient', file: input, key: 'bench/client.bin', size },
      who,
    );
    const plainGet = await timed(
      stack,
      'plain S3 GET (baseline)',
      { op: 'plainGet', file: output, key: 'bench/plain.bin', size },
      who,
    );
    await checkOutput(output, size, expected, 'the plain GET');
    const download = await timed(
      stack,
      'download (client-sealed): presigned GET + decrypt in client',
      { op: 'download', file: output, key: 'bench/client.bin', size },
      who,
    );
    await checkOutput(output, size, expected, 'the download of the client-sealed document');
    const downloadService = await timed(
      stack,
      'download (service-sealed): presigned GET + decrypt in client',
      { op: 'download', file: output, key: 'bench/service.bin', size },
      who,
    );
    await checkOutput(output, size, expected, 'the download of the service-sealed document');

    await timed(
      stack,
      'upload of the streamed document',
      { op: 'uploadClient', file: small, key: 'bench/stream.bin', size: streamSize },
      who,
    );
    await timed(
      stack,
      'plain PUT of the streamed document',
      { op: 'plainPut', file: small, key: 'bench/plain-stream.bin', size: streamSize },
      who,
    );
    const plainGetSmall = await timed(
      stack,
      `plain S3 GET of ${streamSizeMiB} MiB (baseline)`,
      { op: 'plainGet', file: output, key: 'bench/plain-stream.bin', size: streamSize },
      who,
    );
    await checkOutput(output, streamSize, expectedSmall, 'the plain GET of the streamed document');
    const streamed = await timed(
      stack,
      `streamed read of ${streamSizeMiB} MiB: GET /v1/streams/{key}, decrypted by the service`,
      { op: 'stream', file: output, key: 'bench/stream.bin', size: streamSize },
      who,
    );
    await checkOutput(output, streamSize, expectedSmall, 'the streamed read');

    service.vsPlain = service.mibPerSecond / plainPut.mibPerSecond;
    client.vsPlain = client.mibPerSecond / plainPut.mibPerSecond;
    download.vsPlain = download.mibPerSecond / plainGet.mibPerSecond;
    downloadService.vsPlain = downloadService.mibPerSecond / plainGet.mibPerSecond;
    streamed.vsPlain = streamed.mibPerSecond / plainGetSmall.mibPerSecond;
    const result: TransferResult = {
      sizeMiB,
      streamSizeMiB,
      rows: [plainPut, service, client, plainGet, download, downloadService, plainGetSmall, streamed],
      stackRssBeforeMiB: rssBefore / MiB,
    };
    console.log(`\n## Documents of ${sizeMiB} MiB through the local stack (same file, same run)\n`);
    const header = [
      'transfer',
      'seconds',
      'MiB/s',
      'vs baseline',
      'stack peak RSS MiB',
      'client peak RSS MiB',
    ];
    const lines = result.rows.map((r) => [
      r.name,
      r.seconds.toFixed(2),
      r.mibPerSecond.toFixed(1),
      r.vsPlain === undefined ? 'baseline' : `${r.vsPlain.toFixed(2)}x`,
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
    for (const r of [service, client])
      if (r.sendSeconds !== undefined)
        console.log(
          `${r.name}: parts sent in ${r.sendSeconds.toFixed(2)} s, then ${(r.seconds - r.sendSeconds).toFixed(2)} s to complete (and, sealed by the service, to seal)`,
        );
    console.log(
      `client peak RSS: a process of its own per transfer (bundled bench/transfer-client.ts, plain node), the client alone; stack peak RSS: the stack process (KMS, S3, gateway, functions), ${result.stackRssBeforeMiB.toFixed(0)} MiB before the transfers`,
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
