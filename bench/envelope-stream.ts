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
import {
  authenticate,
  type EnvelopeHeader,
  type EnvelopeVersion,
  opener,
  sealer,
  TAG_BYTES,
} from '../src/core/envelope/index.js';

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;
/** Each row runs this many times; the fastest run is reported. */
const RUNS = 2;

export interface StreamRow {
  name: string;
  mibPerSecond: number;
  /** Largest growth of this process's RSS over the RSS before the run, across the row's runs. */
  peakRssGrowthMiB: number;
  /** Bytes that reached the sink in one run. */
  bytesOut: number;
}

/** `total` bytes in 64 KiB chunks, all the same random chunk: the source costs no memory. */
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

const fileSource = (path: string) => createReadStream(path, { highWaterMark: CHUNK });

/** A sink that counts the bytes it is given and drops them. */
class CountingSink extends Writable {
  bytes = 0;

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (error?: Error | null) => void): void {
    this.bytes += chunk.length;
    done();
  }
}

/** Raw AES-256-GCM as a stream, the tag at the end: the baseline. */
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

/**
 * Runs `run` RUNS times over `bytes` of input, sampling RSS every 50 ms; reports the fastest run
 * and the largest RSS growth. `run` resolves to the bytes its sink saw, checked against `expected`.
 */
async function timed(
  name: string,
  bytes: number,
  expected: (bytesOut: number) => boolean,
  run: () => Promise<number>,
): Promise<StreamRow> {
  let best = 0;
  let growth = 0;
  let bytesOut = 0;
  for (let i = 0; i < RUNS; i++) {
    const before = process.memoryUsage().rss;
    let peak = before;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 50);
    const t0 = performance.now();
    try {
      bytesOut = await run();
    } finally {
      clearInterval(timer);
    }
    const seconds = (performance.now() - t0) / 1000;
    peak = Math.max(peak, process.memoryUsage().rss);
    if (!expected(bytesOut)) throw new Error(`${name}: the sink saw ${bytesOut} bytes`);
    best = Math.max(best, bytes / MiB / seconds);
    growth = Math.max(growth, (peak - before) / MiB);
  }
  return { name, mibPerSecond: best, peakRssGrowthMiB: growth, bytesOut };
}

async function drain(...streams: [NodeJS.ReadableStream, ...NodeJS.ReadWriteStream[]]): Promise<number> {
  const sink = new CountingSink();
  await pipeline([...streams, sink]);
  return sink.bytes;
}

function print(totalMiB: number, rows: StreamRow[]): void {
  const base = rows[0]?.mibPerSecond ?? Number.NaN;
  const header = ['row', 'MiB/s', 'vs raw AES-GCM', 'peak RSS growth MiB'];
  const lines = rows.map((r, i) => [
    r.name,
    r.mibPerSecond.toFixed(0),
    i === 0 ? '1.00x (baseline)' : `${(r.mibPerSecond / base).toFixed(2)}x`,
    r.peakRssGrowthMiB.toFixed(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  console.log(
    `\nStreaming envelope encryption of ${totalMiB} MiB in 64 KiB chunks, in process (best of ${RUNS})`,
  );
  console.log([fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...lines.map(fmt)].join('\n'));
}

/**
 * Streaming throughput of the S3 Encryption Client seal, open and authenticate on `totalMiB`
 * beside raw AES-256-GCM streaming and the AWS Encryption SDK's streaming encrypt (64 KiB frames,
 * raw AES keyring, so no KMS call is timed), all in this process, in the same run. Opening reads
 * a sealed file written once to a temporary directory, removed at the end.
 */
export async function benchEnvelopeStream(totalMiB = Number(process.env.BENCH_ENVELOPE_MIB ?? 256)) {
  if (!Number.isFinite(totalMiB) || totalMiB <= 0) throw new RangeError(`BENCH_ENVELOPE_MIB: ${totalMiB}`);
  const total = Math.round(totalMiB * MiB);
  const exactly = (n: number) => (out: number) => out === n;
  const dir = mkdtempSync(join(tmpdir(), 'eaas-bench-envelope-'));
  const rows: StreamRow[] = [];
  try {
    // Untimed warm-up of the cipher and stream code. V8 may still grow its young generation once
    // (about 30 MiB) in a later row: bounded, and the same at any size.
    await drain(source(Math.min(total, 64 * MiB)), rawGcm());

    rows.push(
      await timed('raw AES-256-GCM stream (baseline)', total, exactly(total + TAG_BYTES), () =>
        drain(source(total), rawGcm()),
      ),
    );

    const sealedFile = join(dir, 'sealed.bin');
    const seal = (version: EnvelopeVersion, dataKey: Buffer) =>
      sealer({ version, dataKey: Buffer.from(dataKey), wrappedKey: Buffer.from('x'), kmsContext: {} });
    for (const version of ['v3', 'v2'] as const) {
      const V = version.toUpperCase();
      const dataKey = randomBytes(32);
      rows.push(
        await timed(`S3EC ${V} seal`, total, exactly(total + TAG_BYTES), () =>
          drain(source(total), seal(version, dataKey).stream),
        ),
      );
      // Seal once more into a file, untimed, to open it from disk.
      const sealed = seal(version, dataKey);
      const header: EnvelopeHeader = sealed.header;
      await pipeline(source(total), sealed.stream, createWriteStream(sealedFile));
      rows.push(
        await timed(`S3EC ${V} open (from a file)`, total, exactly(total), () =>
          drain(fileSource(sealedFile), opener(header, Buffer.from(dataKey))),
        ),
      );
      if (version === 'v3') {
        rows.push(
          await timed(`S3EC ${V} authenticate only (from a file)`, total, exactly(total), () =>
            authenticate(header, Buffer.from(dataKey), fileSource(sealedFile)),
          ),
        );
        rows.push(
          await timed('raw AES-256-GCM over the same file', total, exactly(total + 2 * TAG_BYTES), () =>
            drain(fileSource(sealedFile), rawGcm()),
          ),
        );
      }
      rmSync(sealedFile, { force: true });
    }

    const { encryptStream } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
    const keyring = new RawAesKeyringNode({
      keyName: 'bench',
      keyNamespace: 'bench',
      unencryptedMasterKey: randomBytes(32),
      wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
    });
    rows.push(
      await timed(
        'Encryption SDK stream encrypt, 64 KiB frames (0x0478)',
        total,
        (out) => out > total,
        () =>
          drain(
            source(total),
            encryptStream(keyring, {
              suiteId: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY,
              frameLength: CHUNK,
              plaintextLength: total,
            }),
          ),
      ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  print(totalMiB, rows);
  return rows;
}
