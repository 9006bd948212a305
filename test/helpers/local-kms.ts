import { rmSync } from 'node:fs';
import type { LocalKmsOptions } from '@eaas/aws-local';
import {
  type TestKms as EmulatorTestKms,
  makeDataDir,
  startTestKms as startEmulator,
} from '@eaas/aws-local/testing/local-kms';
import { type StackConfig as Config, loadStackConfig as loadConfig } from '../../local/config.js';
import { localKmsOptions } from '../../local/emulator-options.js';

export { clientFor, makeDataDir } from '@eaas/aws-local/testing/local-kms';

export interface TestKms extends Omit<EmulatorTestKms, 'config'> {
  config: Config;
}

/**
 * The local KMS as the local stack starts it (the service's seed key and settings from the
 * environment), on a free loopback port over a fresh (or given) data dir.
 */
export async function startTestKms(
  options: Partial<LocalKmsOptions> & { env?: NodeJS.ProcessEnv } = {},
): Promise<TestKms> {
  const { env, ...overrides } = options;
  const dataDir = options.dataDir ?? makeDataDir();
  const config = loadConfig({ EAAS_DATA_DIR: dataDir, ...env });
  const started = await startEmulator({ ...localKmsOptions(config), port: 0, ...overrides, dataDir });
  return {
    ...started,
    config,
    async stop() {
      await started.stop();
      if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
