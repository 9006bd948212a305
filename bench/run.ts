import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { benchApi } from './api.js';
import { benchAuthz } from './authz.js';
import { benchEnvelopeStream } from './envelope-stream.js';
import { benchKms } from './kms.js';
import { benchRewrap } from './rewrap.js';
import { benchTransfer } from './transfer.js';

/** `npm run bench [-- seconds [soakSeconds]]`: every benchmark, each beside its baseline measured in the same run. */
async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? process.env.BENCH_SECONDS ?? 3);
  const soakSeconds = Number(process.argv[3] ?? process.env.BENCH_SOAK_SECONDS ?? 60);
  console.log(
    `node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), ${seconds}s per measurement`,
  );
  const results = {
    kms: await benchKms(seconds * 1000),
    api: await benchApi(seconds * 1000, soakSeconds * 1000),
    authz: await benchAuthz(seconds * 1000),
    envelopeStream: await benchEnvelopeStream(),
    transfer: await benchTransfer(),
    rewrap: await benchRewrap(),
  };
  writeFileSync('bench-results.json', `${JSON.stringify(results, null, 2)}\n`);
  console.log('\nraw figures written to bench-results.json');
  // Keep-alive sockets of the SDK clients would hold the loop open; the run is over.
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
