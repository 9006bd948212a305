import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable, Transform, type Writable } from 'node:stream';
import { CliError, EXIT, UsageError } from '../exit-codes.js';
import type { Runtime } from '../runtime.js';

/** Input from a file or standard input, and output to a file (all or nothing) or standard output. */

const toStdio = (path: string | undefined) => path === undefined || path === '-';

/** Opens the input: a file (opened now, so a missing one fails before the API is asked) or stdin. */
export async function openInput(runtime: Runtime, path: string | undefined): Promise<Readable> {
  if (toStdio(path)) return runtime.stdin;
  try {
    const handle = await open(path as string, 'r');
    return handle.createReadStream({ highWaterMark: 64 * 1024 });
  } catch (error) {
    throw fileError(error, path as string, 'read');
  }
}

function fileError(error: unknown, path: string, verb: string): CliError {
  const code = (error as NodeJS.ErrnoException).code ?? 'FileError';
  return new CliError(code, `cannot ${verb} ${path}: ${(error as Error).message}`, EXIT.usage);
}

/** The first bytes of a stream (at least `limit`+1 of them unless it ends first), and the whole stream again. */
export async function peek(
  source: Readable,
  limit: number,
): Promise<{ head: Buffer; ended: boolean; stream: Readable }> {
  const iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const chunks: Buffer[] = [];
  let size = 0;
  let ended = false;
  while (size <= limit) {
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      break;
    }
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
    chunks.push(chunk);
    size += chunk.length;
  }
  const head = Buffer.concat(chunks);
  async function* replay() {
    yield head;
    if (ended) return;
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield next.value;
      }
    } finally {
      await iterator.return?.();
    }
  }
  return { head, ended, stream: Readable.from(replay(), { objectMode: false }) };
}

/** Reads a stream whole, refusing more than `max` bytes (then `tooLarge()` is thrown). */
export async function readAll(source: Readable, max: number, tooLarge: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of source) {
    size += (chunk as Buffer).length;
    if (size > max) {
      source.destroy();
      throw tooLarge();
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Where a command's bytes go: `stream` to write, `commit()` once all is written, `abort()` otherwise. */
export interface Output {
  stream: Writable;
  /** The file written, or undefined for standard output. */
  path: string | undefined;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/**
 * An output: standard output, or a file written under a temporary name beside it (mode 0600 when
 * `secret`) and renamed into place only by `commit()`; `abort()` (and an interrupt) removes it.
 * Binary output (not `text`) is refused on a terminal.
 */
export async function openOutput(
  runtime: Runtime,
  path: string | undefined,
  options: { secret: boolean; what: string; text?: boolean },
): Promise<Output> {
  if (toStdio(path)) {
    if (runtime.stdout.isTTY && !options.text)
      throw new UsageError(
        `refusing to write ${options.what} to a terminal: give --out FILE, or redirect the output`,
      );
    return { stream: runtime.stdout, path: undefined, commit: async () => {}, abort: async () => {} };
  }
  const target = path as string;
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.partial`);
  let handle: FileHandle;
  try {
    handle = await open(temp, 'wx', options.secret ? 0o600 : 0o666);
  } catch (error) {
    throw fileError(error, target, 'write');
  }
  const stream = handle.createWriteStream();
  let done = false;
  const onSignal = (signal: NodeJS.Signals) => {
    void unlink(temp).finally(() => process.exit(signal === 'SIGINT' ? EXIT.interrupted : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const finish = () => {
    done = true;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  return {
    stream,
    path: target,
    async commit() {
      if (done) return;
      finish();
      try {
        if (!stream.closed)
          await new Promise<void>((resolve, reject) => stream.close((e) => (e ? reject(e) : resolve())));
        await rename(temp, target);
      } catch (error) {
        await unlink(temp).catch(() => {});
        throw fileError(error, target, 'write');
      }
    },
    async abort() {
      if (done) return;
      finish();
      stream.destroy();
      await handle.close().catch(() => {});
      await unlink(temp).catch(() => {});
    },
  };
}

/** Writes bytes to an output and commits it; aborts it on failure. */
export async function writeAll(output: Output, bytes: Uint8Array): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      output.stream.write(bytes, (error) => (error ? reject(error) : resolve()));
    });
    if (output.path !== undefined) await new Promise<void>((resolve) => output.stream.end(resolve));
    await output.commit();
  } catch (error) {
    await output.abort();
    throw error;
  }
}

/**
 * Holds the first `limit` bytes back until the stream ends (then passes everything on), so that a
 * failure before the end leaves nothing written: plaintext of a message up to `limit` bytes reaches
 * standard output only once the whole message is authenticated. Past `limit`, bytes flow through.
 * What is held is zeroed when the stream is destroyed.
 */
export function holdBack(limit: number): Transform {
  let held: Buffer[] | undefined = [];
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (held === undefined) return done(null, chunk);
      held.push(chunk);
      size += chunk.length;
      if (size > limit) {
        for (const c of held) this.push(c);
        held = undefined;
      }
      done();
    },
    flush(done) {
      for (const c of held ?? []) this.push(c);
      held = undefined;
      done();
    },
    destroy(error, done) {
      for (const c of held ?? []) c.fill(0);
      held = undefined;
      done(error);
    },
  });
}
