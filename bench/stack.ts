import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Child, spawnUntil } from './child.js';

/** The local stack (`npm start`) in its own Node process, on free-ish ports over a fresh data dir. */
export interface BenchStack {
  child: Child;
  dataDir: string;
  kmsEndpoint: string;
  apiEndpoint: string;
  /** Resident set size of the stack process, from /proc. */
  rssBytes(): number;
  stop(): Promise<void>;
}

export async function startBenchStack(): Promise<BenchStack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'eaas-bench-'));
  const kmsPort = 4700 + Math.floor(Math.random() * 200);
  const apiPort = kmsPort + 300;
  const child = await spawnUntil(
    process.execPath,
    ['--import', 'tsx', 'src/local/start.ts'],
    {
      EAAS_DATA_DIR: dataDir,
      EAAS_KMS_PORT: String(kmsPort),
      EAAS_API_PORT: String(apiPort),
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    /stack is up/,
  );
  return {
    child,
    dataDir,
    kmsEndpoint: `http://127.0.0.1:${kmsPort}`,
    apiEndpoint: `http://127.0.0.1:${apiPort}`,
    rssBytes() {
      const status = readFileSync(`/proc/${child.proc.pid}/status`, 'utf8');
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
      return kb * 1024;
    },
    async stop() {
      await child.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
