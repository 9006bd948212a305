import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Child, spawnUntil } from './child.js';

/** The local stack (`npm start`) in its own Node process, on free-ish ports over a fresh data dir. */
export interface BenchStack {
  child: Child;
  dataDir: string;
  kmsEndpoint: string;
  apiEndpoint: string;
  s3Endpoint: string;
  /** Resident set size of the stack process, from /proc. */
  rssBytes(): number;
  /** The stack process's peak resident set size since it started or the last reset (VmHWM), from /proc. */
  peakRssBytes(): number;
  /** Starts a new peak: the kernel sets VmHWM to the current RSS (`clear_refs` 5). */
  resetPeakRss(): void;
  stop(): Promise<void>;
}

function procStatus(pid: number | undefined, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN);
  return kb * 1024;
}

/**
 * `compiled`: run the JavaScript `tsc -p tsconfig.build.json` emits into dist/ (built here first),
 * as Lambda runs bundled JavaScript, instead of TypeScript through tsx (whose loader alone holds
 * some 35 MiB of the process's memory).
 */
export async function startBenchStack(
  env: Record<string, string> = {},
  { compiled = false }: { compiled?: boolean } = {},
): Promise<BenchStack> {
  if (compiled)
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json']);
  const dataDir = mkdtempSync(join(tmpdir(), 'eaas-bench-'));
  const kmsPort = 4700 + Math.floor(Math.random() * 200);
  const apiPort = kmsPort + 300;
  const s3Port = kmsPort + 600;
  const child = await spawnUntil(
    process.execPath,
    compiled ? ['dist/local/start.js'] : ['--import', 'tsx', 'src/local/start.ts'],
    {
      EAAS_DATA_DIR: dataDir,
      EAAS_KMS_PORT: String(kmsPort),
      EAAS_API_PORT: String(apiPort),
      EAAS_S3_PORT: String(s3Port),
      ...env,
    },
    /stack is up/,
  );
  return {
    child,
    dataDir,
    kmsEndpoint: `http://127.0.0.1:${kmsPort}`,
    apiEndpoint: `http://127.0.0.1:${apiPort}`,
    s3Endpoint: `http://127.0.0.1:${s3Port}`,
    rssBytes: () => procStatus(child.proc.pid, 'VmRSS'),
    peakRssBytes: () => procStatus(child.proc.pid, 'VmHWM'),
    resetPeakRss: () => writeFileSync(`/proc/${child.proc.pid}/clear_refs`, '5'),
    async stop() {
      await child.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
