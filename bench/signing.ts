import { createHmac, createPublicKey, randomBytes, sign, verify } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { KEY_MANAGER, KEY_USER, LocalIdentities } from '@eaas/aws-local';
import { EaasClient } from '@eaas/client';
import { type Measurement, measure, table } from './lib.js';

/**
 * `op` called `n` times one after another, 25 ms apart (40 a second, under the 50 a second the
 * deployment's method throttle allows the crypto routes, which the local gateway applies too), each
 * call timed on its own. Its ops/s is what one caller's latency allows, 1000 / p50, not a rate
 * reached: throughput through the throttle would measure the throttle.
 */
async function paced(name: string, op: () => Promise<unknown>, n = 60): Promise<Measurement> {
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  for (let i = 0; i < n + 5; i++) {
    const t0 = performance.now();
    try {
      await op();
      if (i >= 5) latencies.push(performance.now() - t0);
    } catch {
      errors++;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  latencies.sort((a, b) => a - b);
  const p50Ms = latencies[Math.floor(latencies.length / 2)] ?? Number.NaN;
  return {
    name,
    concurrency: 1,
    ops: latencies.length,
    seconds: (performance.now() - start) / 1000,
    opsPerSecond: 1000 / p50Ms,
    p50Ms,
    p99Ms: latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] ?? Number.NaN,
    errors,
  };
}

import { startBenchStack } from './stack.js';

/**
 * Signatures and MACs through the API (the local gateway, the crypto function, the local KMS)
 * beside the same primitive in this process with node:crypto: ECDSA P-256 Sign and Verify of
 * 1 KiB, HMAC-SHA-256 of 1 KiB. The in-process figures are the floor: what the service adds is
 * the ratio. Then the latency of bringing a key: import parameters, wrapping, ImportKeyMaterial.
 */
export async function benchSigning(durationMs: number) {
  const stack = await startBenchStack();
  const creds = (name: string) => {
    const p = LocalIdentities.open(stack.dataDir, '111122223333', 'us-east-1').byName(name);
    return { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey };
  };
  const api = new EaasClient({ endpoint: stack.apiEndpoint, credentials: creds(KEY_USER) });
  const manager = new EaasClient({ endpoint: stack.apiEndpoint, credentials: creds(KEY_MANAGER) });
  const users = ['arn:aws:iam::111122223333:user/myKeyUser'];
  const message = randomBytes(1024);
  const rows: Measurement[] = [];
  try {
    const signer = (await manager.createKey({ keySpec: 'ECC_NIST_P256', users })).key.keyId;
    // An imported HMAC key where the local KMS imports material, else one it made.
    const hmacKey = randomBytes(32);
    const imported = (await manager.createKey({ keySpec: 'HMAC_256', origin: 'EXTERNAL', users })).key.keyId;
    const canImport = await manager.importKey(imported, hmacKey).then(
      () => true,
      (error: unknown) => {
        if ((error as { code?: string }).code !== 'UnsupportedOperation') throw error;
        return false;
      },
    );
    const hmac = canImport ? imported : (await manager.createKey({ keySpec: 'HMAC_256', users })).key.keyId;
    const { publicKeyPem } = await api.publicKey(signer);
    const publicKey = createPublicKey(publicKeyPem);
    const { signature } = await api.sign({ keyId: signer, message });
    // The in-process baselines: a P-256 key of its own (KMS's private key never leaves it).
    const { privateKey: localKey } = await import('node:crypto').then((c) =>
      c.generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    );
    const localSignature = sign('sha256', message, localKey);
    const opts = { concurrency: 1, durationMs };
    rows.push(
      await measure(
        'ECDSA P-256 sign 1 KiB, node:crypto (baseline)',
        async () => sign('sha256', message, localKey),
        opts,
      ),
      await paced('POST /v1/sign 1 KiB (ECC_NIST_P256)', () => api.sign({ keyId: signer, message })),
      await measure(
        'ECDSA P-256 verify 1 KiB, node:crypto (baseline)',
        async () => verify('sha256', message, localKey, localSignature),
        opts,
      ),
      await paced('POST /v1/verify 1 KiB', () => api.verify({ keyId: signer, message, signature })),
      await measure(
        'verify with the key of /public-key, node:crypto',
        async () => verify('sha256', message, publicKey, signature),
        opts,
      ),
      await measure(
        'HMAC-SHA-256 1 KiB, node:crypto (baseline)',
        async () => createHmac('sha256', hmacKey).update(message).digest(),
        opts,
      ),
      await paced(`POST /v1/mac 1 KiB (HMAC_256${canImport ? ', imported' : ''})`, () =>
        api.generateMac({ keyId: hmac, message }),
      ),
    );
    // Each row beside the in-process primitive it does: sign, verify (both verifies), HMAC.
    const [signBase, , verifyBase, , , macBase] = rows;
    const baselineOf = (m: Measurement) =>
      /mac|HMAC/.test(m.name) ? macBase : /verify/i.test(m.name) ? verifyBase : signBase;
    console.log(
      '\nSignatures and MACs through the API vs the same primitive in process (node:crypto); API rows: one caller, paced under the method throttle, ops/s = 1000 / p50',
    );
    console.log(table(rows, baselineOf));
    // The ratios are far below 0.01x: say them as how many times the in-process latency.
    for (const m of rows.filter((r) => r.name.startsWith('POST')))
      console.log(
        `${m.name}: ${(m.p50Ms / (baselineOf(m)?.p50Ms ?? Number.NaN)).toFixed(0)}x the p50 in process`,
      );

    if (!canImport) {
      console.log('\nimportKey: this local KMS does not import key material yet; no figure');
      return { rows };
    }
    // Bringing a key: parameters (a fresh RSA-4096 wrapping key), wrapping, import.
    const imports: number[] = [];
    for (let i = 0; i < 5; i++) {
      const key = (await manager.createKey({ origin: 'EXTERNAL', users })).key.keyId;
      const t0 = performance.now();
      await manager.importKey(key, randomBytes(32));
      imports.push(performance.now() - t0);
    }
    imports.sort((a, b) => a - b);
    const importMs = { p50: imports[2] ?? Number.NaN, max: imports[4] ?? Number.NaN };
    console.log(
      `\nimportKey (GET import-parameters + wrap RSAES_OAEP_SHA_256 + PUT material), 5 keys: p50 ${importMs.p50.toFixed(1)} ms, max ${importMs.max.toFixed(1)} ms`,
    );
    return { rows, importMs };
  } finally {
    await stack.stop();
  }
}
