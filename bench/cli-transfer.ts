import { execFileSync, spawn } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { KEY_USER, LocalIdentities, SERVICE } from '@eaas/aws-local';
import { startBenchStack } from './stack.js';
import { makeFile, sha256 } from './transfer.js';

const MiB = 1024 * 1024;
/** The command line as `npm install` ships it: the package's bin over its compiled dist/. */
const CLI = 'packages/client/bin/eaas.js';

export interface CliTransferRow {
  name: string;
  seconds: number;
  mibPerSecond: number;
  vsPlain?: number | undefined;
  /** Peak resident set of the `eaas` process (VmHWM), for the CLI rows. */
  cliPeakRssMiB?: number | undefined;
}

/** Runs `eaas args...` to its end; its peak RSS read from /proc while it runs. */
async function eaas(args: string[], env: NodeJS.ProcessEnv): Promise<{ seconds: number; peakRss: number }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let peak = 0;
  const poll = setInterval(() => {
    try {
      const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0);
      peak = Math.max(peak, kb * 1024);
    } catch {
      // Ended meanwhile.
    }
  }, 20);
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearInterval(poll);
  if (code !== 0) throw new Error(`eaas ${args.join(' ')} exited ${code}: ${stderr}`);
  return { seconds: (performance.now() - t0) / 1000, peakRss: peak };
}

/**
 * `eaas put` (sealed in the client, its default) and `eaas get` of a `BENCH_CLI_MIB` (default
 * 1024) MiB file, each a process of the command line as it installs, beside a plain S3 PUT and GET of the same file to the same local S3 in the
 * same run; the CLI process's peak RSS (target: under 200 MiB).
 */
export async function benchCliTransfer(sizeMiB = Number(process.env.BENCH_CLI_MIB ?? 1024)) {
  // The package as it installs: dist/ built by its `prepare` (tsc), started by its bin.
  execFileSync('npm', ['run', 'build', '--workspace', '@eaas/client', '--silent'], { stdio: 'inherit' });
  const size = sizeMiB * MiB;
  const work = mkdtempSync(join(tmpdir(), 'eaas-bench-cli-'));
  const stack = await startBenchStack({ EAAS_SWEEP_SECONDS: '0' }, { compiled: true });
  try {
    const input = join(work, 'document.bin');
    await makeFile(input, size);
    const ids = LocalIdentities.open(stack.dataDir, '111122223333', 'us-east-1');
    const user = ids.byName(KEY_USER);
    const service = ids.byName(SERVICE);
    const s3 = new S3Client({
      endpoint: stack.s3Endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: service.accessKeyId, secretAccessKey: service.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const timed = async (name: string, run: () => Promise<unknown>): Promise<CliTransferRow> => {
      const t0 = performance.now();
      await run();
      const seconds = (performance.now() - t0) / 1000;
      return { name, seconds, mibPerSecond: sizeMiB / seconds };
    };
    const plainPut = await timed('plain S3 PUT (baseline)', () =>
      s3.send(
        new PutObjectCommand({
          Bucket: 'eaas-vault',
          Key: 'bench/plain.bin',
          Body: createReadStream(input),
          ContentLength: size,
        }),
      ),
    );
    const plainGet = await timed('plain S3 GET (baseline)', async () => {
      const out = await s3.send(new GetObjectCommand({ Bucket: 'eaas-vault', Key: 'bench/plain.bin' }));
      await pipeline(out.Body as Readable, createWriteStream(join(work, 'plain.out')));
    });
    s3.destroy();
    rmSync(join(work, 'plain.out'));
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: work,
      XDG_STATE_HOME: join(work, 'state'),
      XDG_CONFIG_HOME: join(work, 'config'),
      EAAS_ENDPOINT: stack.apiEndpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: user.accessKeyId,
      AWS_SECRET_ACCESS_KEY: user.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    const put = await eaas(['put', input, 'bench/cli.bin', '--key-id', 'alias/eaas-default', '-q'], env);
    const output = join(work, 'document.out');
    const get = await eaas(['get', 'bench/cli.bin', output, '-q'], env);
    if (statSync(output).size !== size || (await sha256(output)) !== (await sha256(input)))
      throw new Error('eaas get wrote other bytes than eaas put stored');
    const row = (name: string, r: { seconds: number; peakRss: number }, base: CliTransferRow) => ({
      name,
      seconds: r.seconds,
      mibPerSecond: sizeMiB / r.seconds,
      vsPlain: sizeMiB / r.seconds / base.mibPerSecond,
      cliPeakRssMiB: r.peakRss / MiB,
    });
    const rows: CliTransferRow[] = [
      plainPut,
      row('eaas put (process: sealed in the client, ciphertext parts)', put, plainPut),
      plainGet,
      row('eaas get (process: presigned GET + decrypt + rename)', get, plainGet),
    ];
    console.log(`\n## eaas put/get of ${sizeMiB} MiB, the command line as a process (same file, same run)\n`);
    for (const r of rows)
      console.log(
        [
          r.name.padEnd(60),
          `${r.seconds.toFixed(2)} s`.padStart(10),
          `${r.mibPerSecond.toFixed(1)} MiB/s`.padStart(14),
          (r.vsPlain === undefined ? '1.00x' : `${r.vsPlain.toFixed(2)}x`).padStart(7),
          r.cliPeakRssMiB === undefined ? '' : `peak RSS ${r.cliPeakRssMiB.toFixed(0)} MiB`,
        ].join('  '),
      );
    return { sizeMiB, rows };
  } finally {
    await stack.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
