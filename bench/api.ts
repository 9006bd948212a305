import { createCipheriv, randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { performance } from 'node:perf_hooks';
import { EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { KEY_USER, LocalIdentities, SERVICE } from '@eaas/aws-local';
import { EaasClient } from '@eaas/client';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { EsdkEnvelope } from '../src/aws/esdk.js';
import { type Measurement, measure, table } from './lib.js';
import { startBenchStack } from './stack.js';

const MiB = 1024 * 1024;

function creds(dataDir: string, name: string) {
  const p = LocalIdentities.open(dataDir, '111122223333', 'us-east-1').byName(name);
  return { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey };
}

/** Requests through the local gateway beside direct KMS calls, envelope throughput, and a soak. */
export async function benchApi(durationMs: number, soakMs: number) {
  const stack = await startBenchStack();
  const api = new EaasClient({ endpoint: stack.apiEndpoint, credentials: creds(stack.dataDir, KEY_USER) });
  const kms = new KMSClient({
    endpoint: stack.kmsEndpoint,
    region: 'us-east-1',
    credentials: creds(stack.dataDir, KEY_USER),
    requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: 64 }) }),
  });
  const oneKiB = randomBytes(1024);
  const rows: Measurement[] = [];
  try {
    for (const concurrency of [1, 32]) {
      rows.push(
        await measure(
          'KMS Encrypt 1 KiB, direct (baseline)',
          () => kms.send(new EncryptCommand({ KeyId: 'alias/eaas-default', Plaintext: oneKiB })),
          {
            concurrency,
            durationMs,
          },
        ),
      );
      rows.push(
        await measure(
          'POST /v1/encrypt 1 KiB via gateway',
          () => api.encrypt({ keyId: 'alias/eaas-default', plaintext: oneKiB }),
          { concurrency, durationMs },
        ),
      );
    }
    console.log(
      '\nThe API through the local gateway vs the same Encrypt straight to the local KMS (stack in its own process)',
    );
    console.log(
      table(rows, (m) => rows.find((r) => r.concurrency === m.concurrency && r.name.includes('baseline'))),
    );

    const envelope = await benchEnvelope(stack.kmsEndpoint, creds(stack.dataDir, SERVICE));
    const soak = soakMs > 0 ? await benchSoak(api, stack.rssBytes, soakMs) : undefined;
    return { gateway: rows, envelope, soak };
  } finally {
    kms.destroy();
    await stack.stop();
  }
}

/** 4 MiB Encryption SDK messages (64 KiB frames) beside raw AES-256-GCM over the same bytes, one process. */
async function benchEnvelope(
  kmsEndpoint: string,
  credentials: { accessKeyId: string; secretAccessKey: string },
) {
  const kms = new KMSClient({ endpoint: kmsEndpoint, region: 'us-east-1', credentials });
  const codec = new EsdkEnvelope(kms, 16 * MiB);
  const payload = randomBytes(4 * MiB);
  const rounds = 24;
  const time = async (fn: () => Promise<unknown> | unknown) => {
    await fn();
    const t0 = performance.now();
    for (let i = 0; i < rounds; i++) await fn();
    return (rounds * payload.length) / MiB / ((performance.now() - t0) / 1000);
  };
  const key = randomBytes(32);
  const raw = await time(() => {
    const c = createCipheriv('aes-256-gcm', key, randomBytes(12));
    c.update(payload);
    c.final();
    c.getAuthTag();
  });
  const { message } = await codec.encrypt('alias/eaas-default', payload, { bench: '1' });
  const enc = await time(() => codec.encrypt('alias/eaas-default', payload, { bench: '1' }));
  const dec = await time(async () => (await codec.decrypt(message, { bench: '1' })).plaintext.fill(0));
  kms.destroy();
  const result = { rawAesGcmMiBps: raw, esdkEncryptMiBps: enc, esdkDecryptMiBps: dec };
  console.log(
    '\nInline envelope, 4 MiB payloads (Encryption SDK suite 0x0478, 64 KiB frames) vs raw AES-256-GCM',
  );
  console.log(`  raw AES-256-GCM   ${raw.toFixed(0)} MiB/s (baseline)`);
  console.log(`  ESDK encrypt      ${enc.toFixed(0)} MiB/s  (${(enc / raw).toFixed(2)}x)`);
  console.log(`  ESDK decrypt      ${dec.toFixed(0)} MiB/s  (${(dec / raw).toFixed(2)}x)`);
  return result;
}

/** Mixed encrypt/decrypt at concurrency 32 for `soakMs`; resident memory of the stack before and after. */
async function benchSoak(api: EaasClient, rssBytes: () => number, soakMs: number) {
  const samples = await Promise.all(
    Array.from({ length: 8 }, async (_, i) =>
      api.encrypt({
        keyId: 'alias/eaas-default',
        plaintext: randomBytes(i % 2 ? 1024 : 16 * 1024),
        context: { n: String(i) },
      }),
    ),
  );
  let i = 0;
  const op = async () => {
    const n = i++;
    if (n % 2 === 0) {
      await api.encrypt({
        keyId: 'alias/eaas-default',
        plaintext: randomBytes(n % 4 === 0 ? 1024 : 16 * 1024),
      });
    } else {
      const s = samples[n % samples.length];
      if (!s) throw new Error('no sample');
      await api.decrypt({ ciphertext: s.ciphertext, context: { n: String(n % samples.length) } });
    }
  };
  await measure('warm-up', op, { concurrency: 32, durationMs: 10_000, warmupMs: 0 });
  const rssAfterWarmup = rssBytes();
  const m = await measure('soak: mixed encrypt/decrypt via gateway', op, {
    concurrency: 32,
    durationMs: soakMs,
    warmupMs: 0,
  });
  const rssAtEnd = rssBytes();
  const growth = (rssAtEnd - rssAfterWarmup) / rssAfterWarmup;
  console.log(
    `\nSoak ${(soakMs / 1000).toFixed(0)} s at concurrency 32, mixed encrypt (1 and 16 KiB) / decrypt through the gateway`,
  );
  console.log(table([m]));
  console.log(
    `  stack RSS after warm-up ${(rssAfterWarmup / MiB).toFixed(1)} MiB, at end ${(rssAtEnd / MiB).toFixed(1)} MiB (${(growth * 100).toFixed(1)} %); errors ${m.errors}`,
  );
  return { ...m, rssAfterWarmupBytes: rssAfterWarmup, rssAtEndBytes: rssAtEnd, rssGrowth: growth };
}
