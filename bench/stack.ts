import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
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
 * Where `compiled` bundles the local stack's entry: one directory below the repository's root, as
 * local/start.ts is, so the stack's `new URL('../serverless.yml', import.meta.url)` and
 * `../web/dist/` name the same files from the bundle as from the source.
 */
const COMPILED_START = '.bench-build/local-start.mjs';

/**
 * Bundles `entry` into one ES module at `outfile`, as `npm run package` bundles each function for
 * Lambda (serverless.yml, custom.esbuild): every package inside, the workspace packages from
 * their TypeScript sources (the `eaas-source` condition), the ES module builds of the AWS SDK.
 */
export async function bundleForNode(entry: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    conditions: ['eaas-source'],
    mainFields: ['module', 'main'],
    platform: 'node',
    format: 'esm',
    target: 'node22',
    // CommonJS modules in the bundle `require` Node's built-ins, which an ES module lacks.
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    logLevel: 'error',
  });
}

/**
 * `compiled`: run the local stack bundled into one JavaScript file (`bundleForNode`, built here
 * first), as Lambda runs bundled JavaScript, instead of TypeScript through tsx (whose loader alone
 * holds some 35 MiB of the process's memory).
 */
export async function startBenchStack(
  env: Record<string, string> = {},
  { compiled = false }: { compiled?: boolean } = {},
): Promise<BenchStack> {
  if (compiled) await bundleForNode('local/start.ts', COMPILED_START);
  const dataDir = mkdtempSync(join(tmpdir(), 'eaas-bench-'));
  const kmsPort = 4700 + Math.floor(Math.random() * 200);
  const apiPort = kmsPort + 300;
  const s3Port = kmsPort + 600;
  const child = await spawnUntil(
    process.execPath,
    compiled ? [COMPILED_START] : ['--import', 'tsx', 'local/start.ts'],
    {
      EAAS_DATA_DIR: dataDir,
      EAAS_KMS_PORT: String(kmsPort),
      EAAS_API_PORT: String(apiPort),
      EAAS_S3_PORT: String(s3Port),
      EAAS_USER_POOL_PORT: String(kmsPort + 900),
      EAAS_IDENTITY_POOL_PORT: String(kmsPort + 1000),
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
