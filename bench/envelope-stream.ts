import { createCipheriv, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable, Transform, type TransformCallback, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AlgorithmSuiteIdentifier,
  buildClient,
  CommitmentPolicy,
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
} from '@aws-crypto/client-node';
import { authenticate, type EnvelopeHeader, opener, sealer } from '../src/core/envelope/index.js';

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;

export interface StreamRow {
  name: string;
  mibPerSecond: number;
  /** Largest growth of this process's RSS while the row ran. */
  peakRssGrowthMiB: number;
}

/** `total` bytes in 64 KiB chunks, all views of one random chunk: the source costs no memory. */
function source(total: number): Readable {
  const chunk = randomBytes(CHUNK);
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) {
        this.push(null);
        return;
      }
      const n = Math.min(CHUNK, total - sent);
      sent += n;
      this.push(n === CHUNK ? chunk : chunk.subarray(0, n));
    },
  });
}

const discard = () =>
  new Writable({
    write(_chunk, _enc, done) {
      done();
    },
  });

/** Raw AES-256-GCM as a stream: the baseline. */
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

/** Times `run` over `bytes` and samples RSS every 50 ms. */
async function timed(name: string, bytes: number, run: () => Promise<unknown>): Promise<StreamRow> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  const t0 = performance.now();
  try {
    await run();
  } finally {
    clearInterval(timer);
  }
  const seconds = (performance.now() - t0) / 1000;
  peak = Math.max(peak, process.memoryUsage().rss);
  return { name, mibPerSecond: bytes / MiB / seconds, peakRssGrowthMiB: (peak - before) / MiB };
}

/**
 * Streaming throughput of the S3 Encryption Client seal and open on `totalMiB` beside raw
 * AES-256-GCM streaming and the AWS Encryption SDK's streaming encrypt (64 KiB frames, raw AES
 * keyring, so no KMS call is timed), all in this process, in the same run.
 */
export async function benchEnvelopeStream(totalMiB = Number(process.env.BENCH_ENVELOPE_MIB ?? 256)) {
  const total = totalMiB * MiB;
  const dir = mkdtempSync(join(tmpdir(), 'eaas-bench-envelope-'));
  const rows: StreamRow[] = [];
  try {
    rows.push(
      await timed('raw AES-256-GCM stream (baseline)', total, () =>
        pipeline(source(total), rawGcm(), discard()),
      ),
    );

    const dataKey = randomBytes(32);
    const sealedFile = join(dir, 'sealed.bin');
    let header: EnvelopeHeader | undefined;
    rows.push(
      await timed('S3EC V3 seal', total, async () => {
        const sealed = sealer({
          version: 'v3',
          dataKey: Buffer.from(dataKey),
          wrappedKey: Buffer.from('x'),
          kmsContext: {},
        });
        header = sealed.header;
        await pipeline(source(total), sealed.stream, discard());
      }),
    );
    // The same seal once more into a file, to open it from disk.
    const sealed = sealer({
      version: 'v3',
      dataKey: Buffer.from(dataKey),
      wrappedKey: Buffer.from('x'),
      kmsContext: {},
    });
    header = sealed.header;
    await pipeline(source(total), sealed.stream, createWriteStream(sealedFile));
    const h = header;
    rows.push(
      await timed('S3EC V3 open (from a file)', total, () =>
        pipeline(
          createReadStream(sealedFile, { highWaterMark: CHUNK }),
          opener(h, Buffer.from(dataKey)),
          discard(),
        ),
      ),
    );
    rows.push(
      await timed('S3EC V3 authenticate only (from a file)', total, () =>
        authenticate(h, Buffer.from(dataKey), createReadStream(sealedFile, { highWaterMark: CHUNK })),
      ),
    );
    rows.push(
      await timed('raw AES-256-GCM read of the same file', total, () =>
        pipeline(createReadStream(sealedFile, { highWaterMark: CHUNK }), rawGcm(), discard()),
      ),
    );

    const { encryptStream } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
    const keyring = new RawAesKeyringNode({
      keyName: 'bench',
      keyNamespace: 'bench',
      unencryptedMasterKey: randomBytes(32),
      wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
    });
    rows.push(
      await timed('Encryption SDK stream encrypt, 64 KiB frames (0x0478)', total, () =>
        pipeline(
          source(total),
          encryptStream(keyring, {
            suiteId: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY,
            frameLength: CHUNK,
            plaintextLength: total,
          }) as unknown as Transform,
          discard(),
        ),
      ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const base = rows[0]?.mibPerSecond ?? 1;
  console.log(`\nStreaming envelope encryption of ${totalMiB} MiB in 64 KiB chunks, in process`);
  console.log('row                                                   MiB/s   vs baseline  peak RSS growth');
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(52)}  ${r.mibPerSecond.toFixed(0).padStart(5)}   ${`${(r.mibPerSecond / base).toFixed(2)}x`.padStart(9)}    ${r.peakRssGrowthMiB.toFixed(1).padStart(6)} MiB`,
    );
  }
  return rows;
}
