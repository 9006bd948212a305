import { createCipheriv, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Readable, Transform, type TransformCallback, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * One streaming encryption of `BENCH_ESDK_BYTES` in its own process, for bench/esdk-api.ts to read
 * its peak RSS: `raw` (AES-256-GCM with node:crypto, the baseline) or `esdk` (the client's
 * encryptStream, its data key from the API at EAAS_ENDPOINT). Prints one JSON line.
 */
const CHUNK = 64 * 1024;

/** `total` bytes in 64 KiB chunks, all the same random chunk: the source costs no memory. */
function source(total: number): Readable {
  const chunk = randomBytes(CHUNK);
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      const n = Math.min(CHUNK, total - sent);
      sent += n;
      this.push(n === CHUNK ? chunk : chunk.subarray(0, n));
    },
  });
}

function rawGcm(): Transform {
  const cipher = createCipheriv('aes-256-gcm', randomBytes(32), randomBytes(12));
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      done(null, cipher.update(chunk));
    },
    flush(done: TransformCallback) {
      cipher.final();
      done(null, cipher.getAuthTag());
    },
  });
}

async function main(): Promise<void> {
  const mode = process.argv[2];
  const total = Number(process.env.BENCH_ESDK_BYTES);
  let bytesOut = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      bytesOut += chunk.length;
      done();
    },
  });
  let cipher: Transform | NodeJS.ReadWriteStream;
  if (mode === 'raw') cipher = rawGcm();
  else if (mode === 'esdk') {
    // Loaded here only, so the baseline's process holds no client.
    const { EaasClient, encryptStream } = await import('@eaas/client');
    const client = new EaasClient({
      endpoint: String(process.env.EAAS_ENDPOINT),
      region: 'us-east-1',
      credentials: {
        accessKeyId: String(process.env.AWS_ACCESS_KEY_ID),
        secretAccessKey: String(process.env.AWS_SECRET_ACCESS_KEY),
      },
    });
    cipher = await encryptStream(client, {
      keyId: 'alias/eaas-default',
      encryptionContext: { bench: 'esdk' },
    });
  } else throw new Error(`mode: raw or esdk, not ${mode}`);
  const t0 = performance.now();
  await pipeline(source(total), cipher, sink);
  const seconds = (performance.now() - t0) / 1000;
  // getrusage's peak resident set of this process, in KiB on Linux.
  const peakRssKiB = process.resourceUsage().maxRSS;
  console.log(JSON.stringify({ mode, seconds, bytesOut, peakRssKiB }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
