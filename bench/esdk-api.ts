import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { KEY_USER, LocalIdentities } from '@eaas/aws-local';
import {
  DataKeyCache,
  decryptMessage,
  EaasClient,
  EaasError,
  encryptMessage,
  type Requester,
} from '@eaas/client';
import { build } from 'esbuild';
import { startBenchStack } from './stack.js';

const MiB = 1024 * 1024;
/** Where the worker is bundled: under node_modules, which resolves its packages (the client's dist/). */
const WORKER = 'node_modules/.cache/eaas-bench/esdk-worker.mjs';

export interface EsdkStreamRow {
  name: string;
  seconds: number;
  mibPerSecond: number;
  vsRaw: number;
  /** Peak resident set of the worker process (getrusage maxRSS). */
  peakRssMiB: number;
}

export interface SmallMessagesRow {
  name: string;
  messages: number;
  seconds: number;
  messagesPerSecond: number;
  /** Calls to POST /v1/data-keys and POST /v1/decrypt, counted as they left the client. */
  dataKeyCalls: number;
  decryptCalls: number;
  /** Answers 429 (the method's throttle, 50 a second and a burst of 100 by default), each retried after 20 ms. */
  throttled: number;
  vsUncached: number;
}

/**
 * The client, its calls counted by route; a call the API's throttle refuses (429) is counted
 * apart and retried after 20 ms, as an SDK's retry would, so the run measures what the throttle costs.
 */
function counted(client: EaasClient) {
  const calls = new Map<string, number>();
  let throttled = 0;
  const requester: Requester = {
    async request<T>(method: string, path: string, body?: unknown, query?: Record<string, string>) {
      for (;;) {
        try {
          const answer = await client.request<T>(method, path, body, query);
          calls.set(path, (calls.get(path) ?? 0) + 1);
          return answer;
        } catch (error) {
          if (!(error instanceof EaasError && error.status === 429)) throw error;
          throttled++;
          await sleep(20);
        }
      }
    },
    raw: (...a) => client.raw(...a),
    rawBytes: (...a) => client.rawBytes(...a),
  };
  return { requester, count: (path: string) => calls.get(path) ?? 0, throttled: () => throttled };
}

/**
 * (a) A streaming encryption of `BENCH_ESDK_MIB` (default 1024) MiB with the client's
 * `encryptStream` (its data key from the API of the local stack) beside raw AES-256-GCM with
 * node:crypto over the same bytes, each in a process of its own (the same bundled worker), with
 * that process's peak RSS (target: under 200 MiB). (b) `BENCH_ESDK_MESSAGES` (default 1,000) 1 KiB
 * messages encrypted then decrypted one after another, without and with a DataKeyCache: the API
 * calls each run made and its wall time, in the same run against the same stack.
 */
export async function benchEsdkApi(
  sizeMiB = Number(process.env.BENCH_ESDK_MIB ?? 1024),
  messages = Number(process.env.BENCH_ESDK_MESSAGES ?? 1000),
) {
  if (!Number.isFinite(sizeMiB) || sizeMiB <= 0) throw new RangeError(`BENCH_ESDK_MIB: ${sizeMiB}`);
  if (!Number.isInteger(messages) || messages <= 0) throw new RangeError(`BENCH_ESDK_MESSAGES: ${messages}`);
  // The worker runs the package as it installs (dist/ built by its `prepare`), bundled by esbuild
  // with its packages left in node_modules, so neither row carries tsx's loader.
  execFileSync('npm', ['run', 'build', '--workspace', '@eaas/client', '--silent'], { stdio: 'inherit' });
  await build({
    entryPoints: ['bench/esdk-worker.ts'],
    outfile: WORKER,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node22',
    logLevel: 'error',
  });
  const stack = await startBenchStack({ EAAS_SWEEP_SECONDS: '0' });
  try {
    const user = LocalIdentities.open(stack.dataDir, '111122223333', 'us-east-1').byName(KEY_USER);
    const env = {
      PATH: process.env.PATH,
      BENCH_ESDK_BYTES: String(Math.round(sizeMiB * MiB)),
      EAAS_ENDPOINT: stack.apiEndpoint,
      AWS_ACCESS_KEY_ID: user.accessKeyId,
      AWS_SECRET_ACCESS_KEY: user.secretAccessKey,
    };
    const worker = async (mode: 'raw' | 'esdk') => {
      const { stdout } = await promisify(execFile)(process.execPath, [WORKER, mode], {
        env,
        maxBuffer: 1024 * 1024,
      });
      return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
        seconds: number;
        bytesOut: number;
        peakRssKiB: number;
      };
    };
    const raw = await worker('raw');
    const esdk = await worker('esdk');
    if (esdk.bytesOut <= sizeMiB * MiB) throw new Error(`encryptStream wrote ${esdk.bytesOut} bytes`);
    const streamRow = (name: string, r: typeof raw): EsdkStreamRow => ({
      name,
      seconds: r.seconds,
      mibPerSecond: sizeMiB / r.seconds,
      vsRaw: raw.seconds / r.seconds,
      peakRssMiB: r.peakRssKiB / 1024,
    });
    const streams = [
      streamRow('raw AES-256-GCM stream, node:crypto (baseline)', raw),
      streamRow('encryptStream, data key from the API (0x0478, 64 KiB frames)', esdk),
    ];

    const client = new EaasClient({
      endpoint: stack.apiEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: user.accessKeyId, secretAccessKey: user.secretAccessKey },
    });
    const plaintexts = Array.from({ length: messages }, () => randomBytes(1024));
    // Untimed warm-up: the SDK's modules, the client's signer and connections, the functions.
    const warm = await encryptMessage(client, {
      keyId: 'alias/eaas-default',
      plaintext: plaintexts[0] ?? '',
    });
    await decryptMessage(client, { ciphertext: warm.ciphertext });
    const small = async (name: string, cache?: () => DataKeyCache): Promise<SmallMessagesRow[]> => {
      const c = counted(client);
      // One cache for the writer and one for the reader, as two processes would have.
      const writerCache = cache?.();
      const readerCache = cache?.();
      let t0 = performance.now();
      const made: Buffer[] = [];
      for (const plaintext of plaintexts) {
        const { ciphertext } = await encryptMessage(c.requester, {
          keyId: 'alias/eaas-default',
          plaintext,
          encryptionContext: { bench: 'small' },
          cache: writerCache,
        });
        made.push(ciphertext);
      }
      const encryptSeconds = (performance.now() - t0) / 1000;
      const encryptThrottled = c.throttled();
      // Untimed: the throttle's bucket refills before the reading starts.
      await sleep(3000);
      t0 = performance.now();
      for (const [i, ciphertext] of made.entries()) {
        const { plaintext } = await decryptMessage(c.requester, { ciphertext, cache: readerCache });
        if (!plaintext.equals(plaintexts[i] as Buffer))
          throw new Error('a small message came back different');
      }
      const decryptSeconds = (performance.now() - t0) / 1000;
      return [
        {
          name: `encrypt, ${name}`,
          messages,
          seconds: encryptSeconds,
          messagesPerSecond: messages / encryptSeconds,
          dataKeyCalls: c.count('/v1/data-keys'),
          decryptCalls: 0,
          throttled: encryptThrottled,
          vsUncached: 1,
        },
        {
          name: `decrypt, ${name}`,
          messages,
          seconds: decryptSeconds,
          messagesPerSecond: messages / decryptSeconds,
          dataKeyCalls: 0,
          decryptCalls: c.count('/v1/decrypt'),
          throttled: c.throttled() - encryptThrottled,
          vsUncached: 1,
        },
      ];
    };
    // The throttle's bucket refills between the runs: each starts with its burst.
    const uncached = await small('no cache (baseline)');
    await sleep(3000);
    const cached = await small(
      'DataKeyCache (maxAge 300 s, defaults)',
      () => new DataKeyCache({ maxAgeSeconds: 300 }),
    );
    cached.forEach((row, i) => {
      row.vsUncached = row.messagesPerSecond / (uncached[i]?.messagesPerSecond ?? Number.NaN);
    });
    const smallRows = [uncached[0], cached[0], uncached[1], cached[1]].filter((r) => r !== undefined);

    console.log(`\n## Encryption SDK over the API: ${sizeMiB} MiB streamed, each row a process of its own\n`);
    for (const r of streams)
      console.log(
        [
          r.name.padEnd(64),
          `${r.seconds.toFixed(2)} s`.padStart(9),
          `${r.mibPerSecond.toFixed(0)} MiB/s`.padStart(11),
          `${r.vsRaw.toFixed(2)}x`.padStart(6),
          `peak RSS ${r.peakRssMiB.toFixed(0)} MiB`,
        ].join('  '),
      );
    console.log(`\n## ${messages} messages of 1 KiB, one after another, without and with data-key caching\n`);
    for (const r of smallRows)
      console.log(
        [
          r.name.padEnd(48),
          `${r.seconds.toFixed(2)} s`.padStart(9),
          `${r.messagesPerSecond.toFixed(0)} msg/s`.padStart(11),
          `${r.vsUncached.toFixed(2)}x`.padStart(7),
          `API calls: ${r.dataKeyCalls + r.decryptCalls}`,
          r.throttled > 0 ? `(+${r.throttled} throttled 429s, retried)` : '',
        ].join('  '),
      );
    return { sizeMiB, streams, messages, small: smallRows };
  } finally {
    await stack.stop();
  }
}
