import { contextProblems, type EncryptionContext } from '@eaas/aws-rules';
import { ValidationError } from '../errors.js';
import { S3EC_RESERVED_CONTEXT_KEYS } from './metadata.js';

/**
 * What an object in the vault carries beside the S3 Encryption Client's own header: S3's limit on
 * user metadata, this service's metadata keys, the instruction file's marker, and the rules an
 * object's encryption context follows so that AWS's own S3 Encryption Clients read it back.
 */

/** S3 allows 2 KB of user metadata; a header that does not fit goes to an instruction file. */
export const METADATA_LIMIT_BYTES = 2048;

/** This service's own metadata beside the S3EC keys: never a secret. */
export const EAAS_METADATA = {
  owner: 'eaas-owner',
  keyArn: 'eaas-key-arn',
  created: 'eaas-created',
  contentType: 'eaas-content-type',
  /** When the data key was last wrapped (ISO time): re-encryption jobs compare it with the key's last rotation. */
  wrappedAt: 'eaas-wrapped-at',
  /** The upload that wrote the object, for objects sealed from an upload (makes the seal idempotent). */
  uploadId: 'eaas-upload-id',
  /** The seal attempt that wrote the object (an upload's seal finishes its own attempt, never another's). */
  sealNonce: 'eaas-seal',
} as const;

/**
 * On an instruction file a re-encryption job re-wrapped (its own metadata): the ETag of the object
 * version it was re-wrapped for. The job writes the instruction file first, then the object's
 * metadata (`rewrap-object.ts`); while the mark equals the object's ETag, the key the file's
 * header is wrapped under is the one the file's `eaas-key-arn` names, whatever the object's
 * metadata still says (`recordedKeyOf`).
 */
export const REWRAP_OF = 'eaas-rewrap-of';

/**
 * Whether an instruction file holds a re-wrap whose metadata copy is still pending: its mark is
 * this very object version (a metadata copy keeps the ETag), and its wrap time is not yet the
 * object's (the copy, once it lands, carries the file's wrap time). The one rule the reader
 * (`recordedKeyOf`) and the jobs (`rewrap-object.ts`, which complete such a copy) share.
 */
export function pendingRewrap(
  object: { etag: string; metadata: Record<string, string> },
  instruction: { metadata: Record<string, string> } | undefined,
): boolean {
  const fileWrappedAt = instruction?.metadata[EAAS_METADATA.wrappedAt];
  return (
    instruction?.metadata[REWRAP_OF] === object.etag &&
    fileWrappedAt !== undefined &&
    fileWrappedAt !== object.metadata[EAAS_METADATA.wrappedAt]
  );
}

/**
 * The key this service recorded for an object's header: the object's `eaas-key-arn`, or, for a
 * header read from an instruction file a re-encryption job re-wrapped for this very object version
 * (its `eaas-rewrap-of` mark equals the object's ETag; a metadata copy keeps the ETag), the key
 * the instruction file names. The job writes the file first and the object's metadata second, so
 * a job cut off between the two (a crash, then a cancel, retries run out, a job S3 failed) leaves
 * the object's metadata naming the source while the data key is under the destination: read with
 * the key its metadata names, the document would not open. This only picks the key to try: the
 * caller's right is checked on that key with the header's whole context, and KMS Decrypt with
 * that key id refuses a data key wrapped under any other, so no right is bypassed.
 */
export function recordedKeyOf(
  object: { etag: string; metadata: Record<string, string> },
  instruction?: { metadata: Record<string, string> },
): string | undefined {
  const moved = instruction?.metadata[EAAS_METADATA.keyArn];
  if (moved && pendingRewrap(object, instruction)) return moved;
  return object.metadata[EAAS_METADATA.keyArn];
}

/** The instruction file's own metadata, as the S3 Encryption Clients write it. */
export const INSTRUCTION_METADATA = { 'x-amz-crypto-instr-file': '' } as const;

/**
 * Precondition of every object write: S3 metadata is ASCII, so a context must be too, besides the
 * usual rules. The keys the S3 Encryption Client reserves are refused (any case): an AWS client
 * ignores them when it compares contexts, so a document could not be read with the context it was
 * written with.
 */
export function checkObjectContext(context: EncryptionContext | undefined): void {
  if (!context) return;
  const problems = contextProblems(context, 'context');
  for (const k of Object.keys(context))
    if (
      S3EC_RESERVED_CONTEXT_KEYS.includes(k.toLowerCase()) &&
      !problems.some((p) => p.path === `context.${k}`)
    )
      problems.push({
        path: `context.${k}`,
        message: `the keys ${S3EC_RESERVED_CONTEXT_KEYS.join(' and ')} are reserved by the S3 Encryption Client`,
      });
  if (problems.length > 0)
    throw new ValidationError(
      `Invalid encryption context: ${problems[0]?.path} ${problems[0]?.message}.`,
      problems,
    );
  for (const [k, v] of Object.entries(context))
    if (!/^[\x20-\x7e]*$/.test(k) || !/^[\x20-\x7e]*$/.test(v))
      throw new ValidationError(
        'An object encryption context is printable ASCII only (S3 metadata is ASCII).',
      );
}
