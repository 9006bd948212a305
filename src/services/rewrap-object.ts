import type { EncryptionContext } from '@eaas/aws-rules';
import {
  decodeHeader,
  EAAS_METADATA,
  EnvelopeFormatError,
  type EnvelopeHeader,
  encodeHeader,
  headerLocation,
  INSTRUCTION_METADATA,
  INSTRUCTION_SUFFIX,
  pendingRewrap,
  REWRAP_OF,
} from '../core/envelope/index.js';
import { DomainError } from '../core/errors.js';
import { type JobSpec, NOT_AUTHORIZED, select, UNKNOWN_KEY_FAILURE } from '../core/rewrap-job.js';
import type { JobObjects, Keys } from '../ports.js';

/**
 * One object of a re-encryption job: selected by its metadata; its header from its metadata (and
 * instruction file), never its body; the starter's right to move it checked with its stored
 * encryption context; KMS ReEncrypt of the wrapped data key under the same encryption context; the
 * new header written with writes conditioned on the ETags read.
 *
 * Instruction-file objects take two writes: the instruction file first (If-Match the version read,
 * its own metadata naming the object version it belongs to, `eaas-rewrap-of`), then the object's
 * metadata by an in-place copy (If-Match the object's ETag). A job cut off between the two finds
 * the marker on its next pass and only completes the copy: nothing is re-wrapped twice. Until then,
 * or for good when nothing passes again (a job cancelled after the cut-off, S3 out of retries), the
 * document still reads back: the reader opens it with the key the marked instruction file names
 * (`recordedKeyOf`), the caller checked on that key. That makes every half-done state readable
 * whatever the jobs do; a cancelled batch job also completes the copies S3 redrives to it
 * (`finishOnly`), and the scheduled engine leaves its own to the next job over the prefix (a
 * finish-only pass after a cancel would have to list the pages again to find them).
 */

/** The object version an instruction file was re-wrapped for (our metadata on the instruction file). */
export { REWRAP_OF } from '../core/envelope/index.js';

export type ObjectOutcome =
  | { kind: 'rewrapped' }
  | { kind: 'alreadyCurrent' }
  | { kind: 'skipped'; reason: string }
  | { kind: 'failed'; reason: string }
  /** Lost a race with a writer (412) every time: tried again later, never forced. */
  | { kind: 'deferred' };

export interface ObjectStepDeps {
  keys: Keys;
  objects: JobObjects;
  now: () => Date;
  /** Wraps every KMS and S3 call: rate ceiling and retries with backoff. */
  call: <T>(kms: boolean, fn: () => Promise<T>) => Promise<T>;
  /** Test hook: called after each durable step with the object's key; may throw to simulate a crash. */
  step: (name: string, key?: string) => Promise<void>;
  /**
   * Whether the job's starter may move an object stored with this KMS encryption context, from
   * the key policies as read for the current page (`starterMayRewrap`).
   */
  authorized: (context: EncryptionContext) => boolean;
  /** How old a head may be when a header in metadata is copied, before it is read again (RECHECK_AFTER_MS). */
  recheckAfterMs?: number;
  /**
   * A cancelled job's pass: only copies left half done are completed (from the instruction file's
   * mark, no ReEncrypt); any other object answers `{ skipped: CANCELLED }` untouched.
   */
  finishOnly?: boolean;
}

/** What a finish-only pass (`ObjectStepDeps.finishOnly`) answers for an object it leaves alone. */
export const CANCELLED = 'cancelled';

/**
 * A copy left half done by another job (its instruction file re-wrapped onto a key that is not
 * this job's destination): completed, so that the metadata names the key the data key is under,
 * but not counted as this job's move.
 */
export const FINISHED_FOR_ANOTHER_JOB = 'finished-for-another-job';

/**
 * A header kept in the object's metadata is written by an in-place copy conditioned on the ETag
 * read, and a metadata copy keeps the ETag (same bytes): the condition cannot tell the object as
 * read from the same object re-wrapped meanwhile by another worker. When the head is older than
 * this (KMS throttled, retries, a slow call), the object is read again and copied only if its
 * metadata is still what was read; otherwise the attempt starts over from a fresh head. A duplicate
 * invocation of the same task (S3 Batch Operations redrives a task after its invocation ended) or a
 * worker that outlived its lease then finds the object already moved instead of writing a header
 * read long before over a later job's. What stays open is the time from that read to the copy
 * (one S3 round trip, plus the copy's own retries). A header in an instruction file needs no such
 * read: the file's own write is conditioned on its ETag, which every re-wrap changes.
 */
export const RECHECK_AFTER_MS = 1000;

const sameMetadata = (a: Record<string, string>, b: Record<string, string>) => {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
};

/** Conflicts retried at once before the object is deferred to the end of the job. */
const CONFLICT_ATTEMPTS = 3;

/** The largest object a single CopyObject may copy (5 GiB); larger ones need UploadPartCopy. */
export const MAX_COPY_BYTES = 5 * 1024 ** 3;

/** A copy failure that certainly changed nothing: a lost condition or a 4xx refusal (not a 5xx or a timeout). */
const surelyNotCopied = (error: unknown) =>
  error instanceof DomainError && error.code !== 'Throttled' && error.code !== 'DependencyFailure';

const code = (error: unknown) => (error instanceof DomainError ? error.code : 'InternalError');

/**
 * Whether the object is known to be under one of the job's keys: by this service's metadata, or,
 * for another writer's object, once KMS re-wrapped it from the source key. A failure before that
 * is not counted as the job's own (its reason starts with UNKNOWN_KEY_FAILURE), so that the job's
 * view counts no object under another key.
 */
interface Scope {
  known: boolean;
}

export async function rewrapObject(deps: ObjectStepDeps, spec: JobSpec, key: string): Promise<ObjectOutcome> {
  for (let attempt = 1; attempt <= CONFLICT_ATTEMPTS; attempt++) {
    const scope: Scope = { known: false };
    try {
      return await attemptOnce(deps, spec, key, scope);
    } catch (error) {
      // Anything but the service's own errors (a crash, a bug) stops the job rather than one object.
      if (!(error instanceof DomainError)) throw error;
      if (error.code === 'PreconditionFailed') continue;
      return { kind: 'failed', reason: scoped(scope, error.code) };
    }
  }
  return { kind: 'deferred' };
}

const scoped = (scope: Scope, reason: string) => (scope.known ? reason : `${UNKNOWN_KEY_FAILURE}${reason}`);

async function attemptOnce(
  deps: ObjectStepDeps,
  spec: JobSpec,
  key: string,
  scope: Scope,
): Promise<ObjectOutcome> {
  const { objects, call } = deps;
  const info = await call(false, () => objects.head(key));
  const readAt = performance.now();
  if (!info) return { kind: 'skipped', reason: 'deleted' };
  // Selected first, from this service's metadata alone: an object under another key is left
  // before anything else about it (its header, its instruction file) is read or counted.
  const verdict = select(spec, {
    keyArn: info.metadata[EAAS_METADATA.keyArn],
    wrappedAt: info.metadata[EAAS_METADATA.wrappedAt],
  });
  if (verdict.rewrap === false)
    return verdict.outcome === 'alreadyCurrent'
      ? { kind: 'alreadyCurrent' }
      : { kind: 'skipped', reason: verdict.reason };
  // Another writer's object (no recorded key) may be under any key until KMS says otherwise.
  scope.known = verdict.rewrap === true;
  const failed = (reason: string): ObjectOutcome => ({ kind: 'failed', reason: scoped(scope, reason) });
  const location = headerLocation(info.metadata);
  const instructionKey = `${key}${INSTRUCTION_SUFFIX}`;
  // V2 with an instruction file leaves no S3EC key in the object metadata: `none` may still be one.
  const instruction =
    location === 'metadata' ? undefined : await call(false, () => objects.read(instructionKey));
  if (location === 'none' && !instruction) return { kind: 'skipped', reason: 'not-encrypted' };
  if (location === 'instruction' && !instruction) return failed('instruction-file-missing');
  const where = location === 'metadata' ? 'metadata' : 'instruction';
  let header: EnvelopeHeader;
  try {
    header = decodeHeader(info.metadata, instruction?.text);
  } catch (error) {
    if (error instanceof EnvelopeFormatError) return failed('malformed-metadata');
    throw error;
  }

  // An instruction file this job already re-wrapped for this very object version: finish the copy.
  // (The object's ETag survives a metadata copy: the wrap times tell a finished copy from a pending one.)
  const finished = instruction !== undefined && pendingRewrap(info, instruction);
  // Whose copy it is: a mark naming another destination is an earlier job's (a job cancelled, or
  // cut off, and a job made again with another destination). Its copy is completed all the same
  // (the data key is under that key already), and not counted as re-wrapped by this job.
  const forAnotherJob =
    finished &&
    (instruction.metadata[EAAS_METADATA.keyArn] ?? spec.destinationKeyArn) !== spec.destinationKeyArn;
  const done: ObjectOutcome = forAnotherJob
    ? { kind: 'skipped', reason: FINISHED_FOR_ANOTHER_JOB }
    : { kind: 'rewrapped' };
  if (deps.finishOnly && !finished) return { kind: 'skipped', reason: CANCELLED };
  // The starter's right to move this object, with its full stored context (exactly what KMS
  // binds), before any KMS call or write, in a dry run too. Not for a copy left half done: its data
  // key is already under the destination (re-wrapped when it was allowed), and leaving the
  // metadata naming the source would make the document unreadable.
  if (!finished && !deps.authorized(header.kmsContext)) {
    // Another writer's object is known to be the job's only once KMS has said so: it is not
    // counted among the job's objects refused.
    return { kind: 'skipped', reason: scope.known ? NOT_AUTHORIZED : 'unknown-key' };
  }
  // Refused before anything is written: an instruction file re-wrapped for an object whose copy
  // then fails would leave the metadata naming the source key while the data key is under the
  // destination, and the API reads an object with the key its metadata names.
  if (info.size > MAX_COPY_BYTES) return failed('too-large-to-copy');
  if (spec.dryRun)
    return verdict.rewrap === 'try' && !finished ? { kind: 'skipped', reason: 'unknown-key' } : done;

  let wrappedKey: Buffer;
  let keyArn: string;
  if (finished) {
    // This job's own mark: the data key went from the source to the destination on an earlier pass.
    scope.known = true;
    wrappedKey = header.wrappedKey;
    keyArn = instruction.metadata[EAAS_METADATA.keyArn] ?? spec.destinationKeyArn;
  } else {
    try {
      const out = await call(true, () =>
        deps.keys.reEncrypt({
          ciphertext: header.wrappedKey,
          sourceContext: header.kmsContext,
          sourceKeyId: spec.sourceKeyArn,
          destinationKeyId: spec.destinationKeyArn,
          destinationContext: header.kmsContext,
        }),
      );
      wrappedKey = Buffer.from(out.ciphertext);
      keyArn = out.keyArn;
      scope.known = true;
    } catch (error) {
      // Not under the source key: an object another writer made under some other key.
      if (code(error) === 'InvalidCiphertext' && verdict.rewrap === 'try')
        return { kind: 'skipped', reason: 'other-key' };
      return failed(code(error));
    }
    await deps.step('re-encrypted', key);
  }
  const wrappedAt = finished
    ? (instruction.metadata[EAAS_METADATA.wrappedAt] ?? deps.now().toISOString())
    : deps.now().toISOString();
  const ours = { [EAAS_METADATA.keyArn]: keyArn, [EAAS_METADATA.wrappedAt]: wrappedAt };
  const next = { ...header, wrappedKey };
  let headerMetadata: Record<string, string> = {};
  let written: { etag: string } | undefined;
  if (where === 'metadata') headerMetadata = encodeHeader(next).metadata;
  else if (instruction && !finished) {
    const encoded = encodeHeader(next, { instructionFile: true });
    written = await call(false, () =>
      objects.write(instructionKey, encoded.instruction ?? '', {
        contentType: 'application/json',
        metadata: { ...instruction.metadata, ...INSTRUCTION_METADATA, ...ours, [REWRAP_OF]: info.etag },
        ifMatch: instruction.etag,
      }),
    );
    await deps.step('instruction-written', key);
  }
  if (where === 'metadata' && performance.now() - readAt > (deps.recheckAfterMs ?? RECHECK_AFTER_MS)) {
    const again = await call(false, () => objects.head(key));
    if (!again || again.etag !== info.etag || !sameMetadata(again.metadata, info.metadata))
      throw new DomainError('PreconditionFailed', 'The object changed since it was read.');
  }
  try {
    await call(false, () =>
      objects.replaceMetadata(
        key,
        { ...info.metadata, ...headerMetadata, ...ours },
        { ifMatch: info.etag, contentType: info.contentType },
      ),
    );
  } catch (error) {
    // The copy surely did not happen (a writer replaced the object, or S3 refused it): put back the
    // instruction file this attempt replaced, If-Match this attempt's write, so the object and its
    // instruction file agree again. The file read may belong to an upload that landed after the
    // head (its object first, then its file), whose metadata names the source key. A writer's newer
    // file wins (412). Not when the object now carries this attempt's wrap (another worker finished
    // the copy from the marker), nor after a 5xx (the copy may have happened: the marker lets the
    // next pass finish it).
    if (written && instruction && surelyNotCopied(error)) {
      const restore = written;
      const now = await call(false, () => objects.head(key));
      if (now?.metadata[EAAS_METADATA.wrappedAt] === wrappedAt) throw error;
      await call(false, () =>
        objects.write(instructionKey, instruction.text, {
          contentType: 'application/json',
          metadata: instruction.metadata,
          ifMatch: restore.etag,
        }),
      ).catch((e: unknown) => {
        if (!(e instanceof DomainError && e.code === 'PreconditionFailed')) throw e;
      });
    }
    throw error;
  }
  await deps.step('metadata-copied', key);
  return done;
}
