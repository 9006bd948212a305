import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, open, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * Bytes of unknown size kept in memory up to a limit, beyond it in a temporary file (mode 0600)
 * that is unlinked as soon as it is open, so that nothing is left on disk whatever ends the run.
 * Memory stays bounded by the limit.
 */

async function anonymousFile(): Promise<FileHandle> {
  const path = join(tmpdir(), `.eaas-${randomBytes(8).toString('hex')}`);
  const handle = await open(path, 'wx+', 0o600);
  // Unlinked now where the system allows it (not Windows): the open handle keeps the data.
  await unlink(path).catch(() => undefined);
  return handle;
}

/** Everything read from `input`: bytes when at most `limit`, else an open (unlinked) file. */
export async function spoolInput(
  input: Readable,
  limit: number,
): Promise<{ bytes: Buffer } | { handle: FileHandle; size: number }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let handle: FileHandle | undefined;
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (!handle && size <= limit) {
        chunks.push(chunk);
        continue;
      }
      if (!handle) {
        handle = await anonymousFile();
        for (const c of chunks) await handle.write(c);
        chunks.length = 0;
      }
      await handle.write(chunk);
    }
  } catch (error) {
    await handle?.close();
    throw error;
  }
  return handle ? { handle, size } : { bytes: Buffer.concat(chunks) };
}

/**
 * A sink for plaintext that is not yet authenticated: held in memory up to `limit`, then in an
 * unlinked temporary file; `release` copies it out only when called (after the tag checked).
 */
export class HeldSink extends Writable {
  private chunks: Buffer[] = [];
  private size = 0;
  private handle: FileHandle | undefined;

  constructor(private readonly limit: number) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.hold(chunk).then(() => done(), done);
  }

  private async hold(chunk: Buffer): Promise<void> {
    this.size += chunk.length;
    if (!this.handle && this.size <= this.limit) {
      this.chunks.push(chunk);
      return;
    }
    if (!this.handle) {
      this.handle = await anonymousFile();
      for (const c of this.chunks) await this.handle.write(c);
      this.chunks = [];
    }
    await this.handle.write(chunk);
  }

  /** Writes what was held to `out`. */
  async release(out: NodeJS.WritableStream): Promise<void> {
    if (!this.handle) {
      for (const c of this.chunks) if (!out.write(c)) await new Promise((r) => out.once('drain', r));
      this.chunks = [];
      return;
    }
    await pipeline(createReadStream('', { fd: this.handle, start: 0, autoClose: false }), out, {
      end: false,
    });
  }

  /** Throws away what was held. */
  async discard(): Promise<void> {
    this.chunks = [];
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
  }
}
