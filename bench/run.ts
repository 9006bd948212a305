import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { benchApi } from './api.js';
import { benchAuthz } from './authz.js';
import { benchCliStartup } from './cli-startup.js';
import { benchCliTransfer } from './cli-transfer.js';
import { benchColdStart } from './cold-start.js';
import { benchEnvelopeStream } from './envelope-stream.js';
import { benchEsdkApi } from './esdk-api.js';
import { benchKms } from './kms.js';
import { benchKmsScaling } from './kms-scaling.js';
import { benchRewrap } from './rewrap.js';
import { benchRewrapBatch } from './rewrap-batch.js';
import { benchSigning } from './signing.js';
import { benchTransfer } from './transfer.js';

/**
 * `npm run bench [-- seconds [soakSeconds]] [-- --only=name,name]`: every benchmark (or those
 * named, `BENCH_ONLY` too), each beside its baseline measured in the same run.
 */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const positional = args.filter((a) => !a.startsWith('--'));
  const seconds = Number(positional[0] ?? process.env.BENCH_SECONDS ?? 3);
  const soakSeconds = Number(positional[1] ?? process.env.BENCH_SOAK_SECONDS ?? 60);
  const benches: Record<string, () => Promise<unknown>> = {
    kms: () => benchKms(seconds * 1000),
    kmsScaling: () => benchKmsScaling(),
    api: () => benchApi(seconds * 1000, soakSeconds * 1000),
    authz: () => benchAuthz(seconds * 1000),
    signing: () => benchSigning(seconds * 1000),
    envelopeStream: () => benchEnvelopeStream(),
    transfer: () => benchTransfer(),
    cliTransfer: () => benchCliTransfer(),
    esdkApi: () => benchEsdkApi(),
    rewrap: () => benchRewrap(),
    rewrapBatch: () => benchRewrapBatch(),
    coldStart: () => benchColdStart(),
    cliStartup: () => benchCliStartup(),
  };
  const only = (args.find((a) => a.startsWith('--only='))?.slice('--only='.length) ?? process.env.BENCH_ONLY)
    ?.split(',')
    .filter((name) => name !== '');
  const unknown = only?.filter((name) => !Object.hasOwn(benches, name)) ?? [];
  if (unknown.length > 0) {
    throw new Error(
      `unknown benchmark ${unknown.join(', ')}; the benchmarks are ${Object.keys(benches).join(', ')}`,
    );
  }
  console.log(
    `node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), ${seconds}s per measurement`,
  );
  const results: Record<string, unknown> = {};
  for (const [name, run] of Object.entries(benches)) {
    if (!only || only.length === 0 || only.includes(name)) results[name] = await run();
  }
  writeFileSync('bench-results.json', `${JSON.stringify(results, null, 2)}\n`);
  console.log('\nraw figures written to bench-results.json');
  // Keep-alive sockets of the SDK clients would hold the loop open; the run is over.
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
