import { Agent } from 'node:http';
import { performance } from 'node:perf_hooks';
import { CreateKeyCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { KEY_MANAGER, KEY_USER, LocalIdentities } from '@eaas/aws-local';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startBenchStack } from './stack.js';

/**
 * What the local KMS's writes cost as keys accumulate: `keys` CreateKey calls (10,000 by default,
 * `BENCH_KMS_KEYS`) one after the other through @aws-sdk/client-kms against the local KMS on
 * 127.0.0.1 (the stack in its own process), each timed. The row is the mean latency of the last
 * 100 over that of the first 100 after 20 warm-up calls (the baseline, same run): 1 means no
 * growth; the goal is <= 1.5.
 * An Encrypt under `alias/eaas-default`, a call that writes nothing, is timed 100 times after the
 * first 120 keys and again after the last, to show that other calls do not slow down either.
 */

const WINDOW = 100;
const WARM_UP = 20;

export interface LatencyRow {
  name: string;
  calls: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

function summarise(name: string, latencies: number[], errors: number): LatencyRow {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
  return {
    name,
    calls: latencies.length,
    meanMs: latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length),
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    errors,
  };
}

async function timed(
  calls: number,
  op: () => Promise<unknown>,
): Promise<{ latencies: number[]; errors: number }> {
  const latencies: number[] = [];
  let errors = 0;
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    try {
      await op();
      latencies.push(performance.now() - t0);
    } catch {
      errors++;
    }
  }
  return { latencies, errors };
}

function print(rows: LatencyRow[], pairs: Array<[LatencyRow, LatencyRow]>): void {
  const header = ['benchmark', 'calls', 'mean ms', 'p50 ms', 'p99 ms', 'errors', 'vs baseline'];
  const ratioOf = (r: LatencyRow) => {
    const pair = pairs.find(([, later]) => later === r);
    return pair ? `${(r.meanMs / pair[0].meanMs).toFixed(2)}x` : '-';
  };
  const lines = rows.map((r) => [
    r.name,
    String(r.calls),
    r.meanMs.toFixed(3),
    r.p50Ms.toFixed(3),
    r.p99Ms.toFixed(3),
    String(r.errors),
    ratioOf(r),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  console.log([fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...lines.map(fmt)].join('\n'));
}

export async function benchKmsScaling(keys = Number(process.env.BENCH_KMS_KEYS ?? 10_000)) {
  if (!Number.isInteger(keys) || keys < 2 * WINDOW + WARM_UP)
    throw new Error(`BENCH_KMS_KEYS must be at least ${2 * WINDOW + WARM_UP}`);
  const stack = await startBenchStack();
  const identities = LocalIdentities.open(stack.dataDir, '111122223333', 'us-east-1');
  const client = (name: string) => {
    const p = identities.byName(name);
    return new KMSClient({
      endpoint: stack.kmsEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey },
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: 1 }) }),
    });
  };
  const admin = client(KEY_MANAGER);
  const user = client(KEY_USER);
  const createKey = () => admin.send(new CreateKeyCommand({ Description: 'bench' }));
  const encrypt = () =>
    user.send(new EncryptCommand({ KeyId: 'alias/eaas-default', Plaintext: Buffer.alloc(1024, 7) }));
  const started = performance.now();
  try {
    // Warm the connections and the server's code paths; these keys count towards the total.
    await timed(WARM_UP, createKey);
    await timed(WARM_UP, encrypt);
    const first = await timed(WINDOW, createKey);
    const encryptEarly = await timed(WINDOW, encrypt);
    const middle = await timed(keys - 2 * WINDOW - WARM_UP, createKey);
    const last = await timed(WINDOW, createKey);
    const encryptLate = await timed(WINDOW, encrypt);
    const seconds = (performance.now() - started) / 1000;
    const errors = first.errors + middle.errors + last.errors;
    const n = (i: number) => i.toLocaleString('en-US');
    const rows = {
      createFirst: summarise(`CreateKey, first ${WINDOW} (baseline)`, first.latencies, first.errors),
      createLast: summarise(`CreateKey, last ${WINDOW} of ${n(keys)}`, last.latencies, last.errors),
      encryptEarly: summarise(
        `Encrypt 1 KiB after ${n(WARM_UP + WINDOW)} keys (baseline)`,
        encryptEarly.latencies,
        encryptEarly.errors,
      ),
      encryptLate: summarise(
        `Encrypt 1 KiB after ${n(keys)} keys`,
        encryptLate.latencies,
        encryptLate.errors,
      ),
    };
    console.log(
      `\nLocal KMS CreateKey as keys accumulate: ${n(keys)} keys one at a time through @aws-sdk/client-kms (stack in its own process), ${seconds.toFixed(0)} s, ${errors} errors`,
    );
    print(
      [rows.createFirst, rows.createLast, rows.encryptEarly, rows.encryptLate],
      [
        [rows.createFirst, rows.createLast],
        [rows.encryptEarly, rows.encryptLate],
      ],
    );
    return {
      keys,
      seconds,
      ...rows,
      createKeyLastOverFirst: rows.createLast.meanMs / rows.createFirst.meanMs,
      encryptLateOverEarly: rows.encryptLate.meanMs / rows.encryptEarly.meanMs,
    };
  } finally {
    admin.destroy();
    user.destroy();
    await stack.stop();
  }
}
