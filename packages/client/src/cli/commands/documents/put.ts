import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { UploadStatus } from '../../../documents-types.js';
import { uploadDocument } from '../../../upload.js';
import { CliError, EXIT, UsageError } from '../../exit-codes.js';
import { parseContext } from '../../input.js';
import type { CommandContext } from '../../runtime.js';
import { byteMeter } from './progress.js';
import { dropState, readState, stateDir, statePath, writeState } from './resume-state.js';
import { spoolInput } from './spool.js';

/** Documents up to this size go through the API in one request; larger ones as uploads. */
export const INLINE_BYTES = 4 * 1024 * 1024;

export interface PutOptions {
  keyId?: string;
  context?: string[];
  contentType?: string;
  overwrite?: boolean;
  concurrency?: string;
  maxRate?: string;
  resume?: boolean;
  seal?: string;
  verify?: boolean;
}

const count = (value: string | undefined, name: string): number | undefined => {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${name} must be a whole number >= 1`);
  return n;
};

/** `eaas put FILE|- KEY`: stores a document; an interrupted upload of a file resumes on the next run. */
export async function put(
  ctx: CommandContext,
  file: string,
  key: string,
  options: PutOptions,
): Promise<void> {
  const keyId = options.keyId ?? ctx.runtime.env.EAAS_KEY_ID;
  if (!keyId) throw new UsageError('put needs --key-id KEY (or EAAS_KEY_ID)');
  const context = parseContext(options.context);
  const concurrency = count(options.concurrency, '--concurrency');
  const maxBytesPerSecond = count(options.maxRate, '--max-rate');
  const seal = options.seal ?? 'client';
  if (seal !== 'client' && seal !== 'service') throw new UsageError('--seal is client or service');
  if (options.verify && seal !== 'client')
    throw new UsageError(
      '--verify is for a file encrypted here (--seal client): the service authenticates what it seals itself',
    );
  const input = file === '-' ? await spoolInput(ctx.runtime.stdin, INLINE_BYTES) : await fileInput(file);
  const size = 'bytes' in input ? input.bytes.length : input.size;
  const client = await ctx.client();
  const common = {
    ...(context ? { context } : {}),
    ...(options.contentType ? { contentType: options.contentType } : {}),
    ...(options.overwrite === false ? { overwrite: false } : {}),
  };
  // --verify: encrypted here whatever the size (a small document sent inline is encrypted by the service).
  if (size <= INLINE_BYTES && !options.verify) {
    const bytes = 'bytes' in input ? input.bytes : await readFile(file);
    if ('handle' in input) await input.handle.close();
    const out = await client.documents.put(key, bytes, { keyId, ...common });
    ctx.printer.value({ ...out, resumedParts: 0 });
    return;
  }
  // Resumable: a file named on the command line (not standard input). A client-sealed upload's
  // content key is handed out once: a new run cancels the interrupted one (its parts are aborted)
  // and starts over.
  const state =
    'path' in input && options.resume !== false
      ? statePath(ctx.runtime.env, {
          path: input.path,
          size,
          mtimeMs: input.mtimeMs,
          key,
          keyId,
          endpoint: (await ctx.settings()).endpoint,
          ...common,
        })
      : undefined;
  let previous = state ? await readState(state) : undefined;
  if (previous && seal === 'client') {
    await client.documents.cancelUpload(previous.uploadId).catch(() => undefined);
    previous = undefined;
  }
  const meter = await byteMeter(ctx, 'put');
  meter.total(size);
  let out: UploadStatus & { resumedParts: number };
  try {
    out = await uploadDocument(
      client,
      {
        key,
        keyId,
        ...common,
        ...('handle' in input
          ? { handle: input.handle }
          : 'path' in input
            ? { file: input.path }
            : { bytes: input.bytes }),
      },
      {
        seal,
        ...(options.verify ? { verify: true } : {}),
        ...(concurrency ? { concurrency } : {}),
        ...(maxBytesPerSecond ? { maxBytesPerSecond } : {}),
        ...(previous ? { resumeId: previous.uploadId } : {}),
        // Nothing of a client-sealed upload is resumed: a failed one is cancelled at once.
        cancelOnFailure: state === undefined || seal === 'client',
        onProgress: ({ sentBytes }) => meter.update(sentBytes),
        onStarted: async (started) => {
          if (state && started.method === 'multipart')
            await writeState(state, stateDir(ctx.runtime.env), {
              v: 1,
              uploadId: started.id,
              expiresAt: started.expiresAt,
            });
        },
      },
    );
  } catch (error) {
    // A refusal that a new run would meet again ends the upload; anything else keeps it to resume.
    const status = (error as { status?: number }).status;
    if (state && status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429)
      await dropState(state);
    throw error;
  } finally {
    meter.stop();
    if ('handle' in input) await input.handle.close();
  }
  if (state) await dropState(state);
  ctx.printer.value({
    key,
    keyId: out.keyId,
    size: out.size,
    etag: out.object?.etag,
    format: out.object?.format,
    uploadId: out.id,
    resumedParts: out.resumedParts,
  });
}

async function fileInput(file: string) {
  const path = resolve(file);
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new CliError('NotAFile', `${file} is not a regular file.`, EXIT.usage);
    return { path, size: info.size, mtimeMs: info.mtimeMs };
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError('NoSuchFile', `cannot read ${file}: ${(error as Error).message}`, EXIT.usage);
  }
}
