import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import type { LocalPrincipal } from '../identity.js';
import type { KmsAuthorizer, KmsUse } from '../kms-use.js';
import { invalidArgument, malformedXml, S3Error } from './errors.js';
import { header } from './payload.js';
import { childrenNamed, childText, type XmlElement, XmlSyntaxError, xmlDocument } from './xml.js';

/**
 * Server-side encryption as S3 records and reports it. Every object is encrypted at rest: with
 * the request's `x-amz-server-side-encryption` headers, else with its bucket's default encryption,
 * which is SSE-S3 (`AES256`) for a bucket that has no configuration
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-bucket-encryption.html). The
 * local S3 keeps bytes as they came (its data dir is a developer's); what it keeps and answers is
 * the encryption each object has in S3, and it makes the KMS authorization S3 makes for SSE-KMS:
 * `kms:GenerateDataKey` to write and `kms:Decrypt` to read, asked of KMS with the caller's own
 * identity and `kms:ViaService` = `s3.<region>.amazonaws.com`
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html), through an
 * injected KmsAuthorizer.
 */

export const SSE_ALGORITHMS = ['AES256', 'aws:kms'] as const;
export type SseAlgorithm = (typeof SSE_ALGORITHMS)[number];

/** How one object (or a multipart upload's future object) is encrypted. */
export const objectSseSchema = z.object({
  algorithm: z.enum(SSE_ALGORITHMS),
  /** SSE-KMS: the key's ARN. */
  kmsKeyArn: z.string().optional(),
  bucketKeyEnabled: z.boolean().optional(),
  /** SSE-KMS: the encryption context S3 gave KMS, which it gives again to decrypt. */
  context: z.record(z.string(), z.string()).optional(),
});
export type ObjectSse = z.infer<typeof objectSseSchema>;

/** A bucket's default encryption (PutBucketEncryption). */
export const bucketEncryptionSchema = z.object({
  algorithm: z.enum(SSE_ALGORITHMS),
  /** SSE-KMS: the key as configured (key id, key ARN, alias name or alias ARN); absent: aws/s3. */
  kmsMasterKeyId: z.string().optional(),
  bucketKeyEnabled: z.boolean(),
});
export type BucketEncryption = z.infer<typeof bucketEncryptionSchema>;

/** The encryption of a bucket that has no configuration, and of objects stored before SSE was recorded. */
export const DEFAULT_BUCKET_ENCRYPTION: BucketEncryption = Object.freeze({
  algorithm: 'AES256',
  bucketKeyEnabled: false,
});
export const DEFAULT_OBJECT_SSE: ObjectSse = Object.freeze({ algorithm: 'AES256' });

/** What encryption a write asks for in its headers; undefined when it names none. */
export interface RequestedSse {
  algorithm: SseAlgorithm;
  kmsKeyId?: string | undefined;
  bucketKeyEnabled?: boolean | undefined;
  context?: Record<string, string> | undefined;
}

const SSE = 'x-amz-server-side-encryption';
const KEY_ID = 'x-amz-server-side-encryption-aws-kms-key-id';
const BUCKET_KEY = 'x-amz-server-side-encryption-bucket-key-enabled';
const CONTEXT = 'x-amz-server-side-encryption-context';

function parseContext(raw: string): Record<string, string> {
  const problem = () =>
    invalidArgument(
      `The header '${CONTEXT}' shall be Base64-encoded UTF-8 string holding JSON which represents a string-string map`,
      CONTEXT,
      raw,
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64').toString('utf8'));
  } catch {
    throw problem();
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw problem();
  const entries = Object.entries(parsed as Record<string, unknown>);
  if (entries.some(([, v]) => typeof v !== 'string')) throw problem();
  return Object.fromEntries(entries) as Record<string, string>;
}

/**
 * Precondition: the write's SSE headers are coherent (API_PutObject.html): a known algorithm, and
 * the KMS key, the bucket key and the context only with `aws:kms`.
 */
export function requestedSse(headers: IncomingHttpHeaders): RequestedSse | undefined {
  const algorithm = header(headers, SSE);
  const keyId = header(headers, KEY_ID);
  const bucketKey = header(headers, BUCKET_KEY);
  const context = header(headers, CONTEXT);
  if (algorithm === undefined) {
    if (keyId !== undefined || context !== undefined || bucketKey !== undefined)
      throw new S3Error(
        'InvalidArgument',
        `Server Side Encryption with AWS KMS managed key requires HTTP header ${SSE} : aws:kms`,
      );
    return undefined;
  }
  if (algorithm === 'aws:kms:dsse')
    throw new S3Error('NotImplemented', 'DSSE-KMS (aws:kms:dsse) is not implemented by the local S3.');
  if (!(SSE_ALGORITHMS as readonly string[]).includes(algorithm))
    throw invalidArgument('The encryption method specified is not supported', SSE, algorithm);
  if (algorithm === 'AES256') {
    if (keyId !== undefined || context !== undefined || bucketKey !== undefined)
      throw new S3Error(
        'InvalidArgument',
        `Server Side Encryption with AWS KMS managed key requires HTTP header ${SSE} : aws:kms`,
      );
    return { algorithm };
  }
  if (bucketKey !== undefined && !/^(true|false)$/i.test(bucketKey))
    throw invalidArgument(`${BUCKET_KEY} must be true or false`, BUCKET_KEY, bucketKey);
  return {
    algorithm: 'aws:kms',
    ...(keyId !== undefined && keyId !== '' ? { kmsKeyId: keyId } : {}),
    ...(bucketKey !== undefined ? { bucketKeyEnabled: bucketKey.toLowerCase() === 'true' } : {}),
    ...(context !== undefined ? { context: parseContext(context) } : {}),
  };
}

/** The headers S3 answers about an object's encryption (PUT, GET, HEAD, copies, multipart). */
export function sseHeaders(sse: ObjectSse | undefined): Record<string, string> {
  const s = sse ?? DEFAULT_OBJECT_SSE;
  return {
    [SSE]: s.algorithm,
    ...(s.algorithm === 'aws:kms' && s.kmsKeyArn ? { [KEY_ID]: s.kmsKeyArn } : {}),
    ...(s.bucketKeyEnabled ? { [BUCKET_KEY]: 'true' } : {}),
  };
}

/** The context S3 gives KMS: the object's ARN, or the bucket's under an S3 Bucket Key, with the caller's pairs. */
function contextOf(
  bucket: string,
  key: string,
  bucketKey: boolean,
  extra: Record<string, string> | undefined,
): Record<string, string> {
  return { ...extra, 'aws:s3:arn': bucketKey ? `arn:aws:s3:::${bucket}` : `arn:aws:s3:::${bucket}/${key}` };
}

export interface SseDeps {
  region: string;
  accountId: string;
  kmsAuthorize?: KmsAuthorizer | undefined;
}

/**
 * The AWS managed key `aws/s3` of the account and region, which SSE-KMS uses when no key is
 * named: its key policy lets every principal of the account use it through S3, so no check is
 * made. Its key id is made up (stable per account and region): the local KMS has no AWS managed keys.
 */
export function awsManagedKeyArn(deps: Pick<SseDeps, 'region' | 'accountId'>): string {
  const h = createHash('sha256').update(`aws/s3:${deps.accountId}:${deps.region}`).digest('hex');
  const id = `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  return `arn:aws:kms:${deps.region}:${deps.accountId}:key/${id}`;
}

/** A key as configured, as an ARN, when no KMS resolves it. */
function keyArnOf(deps: Pick<SseDeps, 'region' | 'accountId'>, keyId: string): string {
  if (keyId.startsWith('arn:')) return keyId;
  const prefix = `arn:aws:kms:${deps.region}:${deps.accountId}:`;
  return keyId.startsWith('alias/') ? `${prefix}${keyId}` : `${prefix}key/${keyId}`;
}

async function useKey(
  deps: SseDeps,
  principal: LocalPrincipal,
  action: KmsUse['action'],
  keyId: string,
  encryptionContext: Record<string, string>,
): Promise<string> {
  if (keyId === awsManagedKeyArn(deps)) return keyId;
  if (!deps.kmsAuthorize) return keyArnOf(deps, keyId);
  const answer = await deps.kmsAuthorize({
    principal,
    action,
    keyId,
    viaService: `s3.${deps.region}.amazonaws.com`,
    encryptionContext,
  });
  if (answer.allowed) return answer.keyArn;
  switch (answer.error) {
    case 'AccessDenied':
      throw new S3Error('AccessDenied', answer.message);
    case 'NotFound':
      throw new S3Error('KMS.NotFoundException', answer.message);
    case 'Disabled':
      throw new S3Error('KMS.DisabledException', answer.message);
    case 'InvalidState':
      throw new S3Error('KMS.KMSInvalidStateException', answer.message);
  }
}

/**
 * The encryption of a new object (PutObject, CopyObject's target, CreateMultipartUpload): the
 * request's, else the bucket's default. A request asking for `aws:kms` without a key gets the AWS
 * managed key; one that does not say whether to use an S3 Bucket Key gets the bucket's setting
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html). Precondition for
 * SSE-KMS: KMS lets the caller generate a data key under the key.
 */
export async function sseForWrite(
  deps: SseDeps,
  principal: LocalPrincipal,
  requested: RequestedSse | undefined,
  bucketDefault: BucketEncryption,
  bucket: string,
  key: string,
): Promise<ObjectSse> {
  const algorithm = requested?.algorithm ?? bucketDefault.algorithm;
  if (algorithm === 'AES256') return { algorithm };
  const defaultKms = bucketDefault.algorithm === 'aws:kms';
  const keyId = requested
    ? (requested.kmsKeyId ?? awsManagedKeyArn(deps))
    : (bucketDefault.kmsMasterKeyId ?? awsManagedKeyArn(deps));
  const bucketKeyEnabled = requested?.bucketKeyEnabled ?? (defaultKms && bucketDefault.bucketKeyEnabled);
  const context = contextOf(bucket, key, bucketKeyEnabled, requested?.context);
  const kmsKeyArn = await useKey(deps, principal, 'kms:GenerateDataKey', keyId, context);
  return {
    algorithm,
    kmsKeyArn,
    ...(bucketKeyEnabled ? { bucketKeyEnabled } : {}),
    ...(requested?.context ? { context } : {}),
  };
}

/**
 * Precondition of reading an object's bytes (GetObject, a copy's source) or adding to an SSE-KMS
 * multipart upload (UploadPart): KMS lets the caller decrypt its data key.
 */
export async function requireDecrypt(
  deps: SseDeps,
  principal: LocalPrincipal,
  sse: ObjectSse | undefined,
  bucket: string,
  key: string,
): Promise<void> {
  if (sse?.algorithm !== 'aws:kms' || !sse.kmsKeyArn) return;
  const context = sse.context ?? contextOf(bucket, key, sse.bucketKeyEnabled === true, undefined);
  await useKey(deps, principal, 'kms:Decrypt', sse.kmsKeyArn, context);
}

// --- PutBucketEncryption / GetBucketEncryption ---------------------------------------------

/** Validates a ServerSideEncryptionConfiguration document (one rule, as S3 takes). */
export function bucketEncryptionFrom(root: XmlElement): BucketEncryption {
  try {
    const rules = childrenNamed(root, 'Rule');
    const rule = rules[0];
    if (rules.length !== 1 || !rule) throw malformedXml();
    const byDefault = childrenNamed(rule, 'ApplyServerSideEncryptionByDefault');
    const apply = byDefault[0];
    if (byDefault.length !== 1 || !apply) throw malformedXml();
    const algorithm = childText(apply, 'SSEAlgorithm')?.trim();
    const keyId = childText(apply, 'KMSMasterKeyID')?.trim();
    const bucketKey = childText(rule, 'BucketKeyEnabled')?.trim();
    if (algorithm === 'aws:kms:dsse')
      throw new S3Error('NotImplemented', 'DSSE-KMS (aws:kms:dsse) is not implemented by the local S3.');
    if (algorithm === undefined || !(SSE_ALGORITHMS as readonly string[]).includes(algorithm))
      throw malformedXml();
    if (keyId && algorithm !== 'aws:kms')
      throw invalidArgument(
        'a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse',
      );
    if (bucketKey !== undefined && bucketKey !== 'true' && bucketKey !== 'false') throw malformedXml();
    return {
      algorithm: algorithm as SseAlgorithm,
      ...(keyId ? { kmsMasterKeyId: keyId } : {}),
      bucketKeyEnabled: bucketKey === 'true',
    };
  } catch (error) {
    if (error instanceof XmlSyntaxError) throw malformedXml();
    throw error;
  }
}

export function bucketEncryptionXml(config: BucketEncryption): string {
  return xmlDocument('ServerSideEncryptionConfiguration', {
    Rule: {
      ApplyServerSideEncryptionByDefault: {
        SSEAlgorithm: config.algorithm,
        KMSMasterKeyID: config.kmsMasterKeyId,
      },
      BucketKeyEnabled: config.bucketKeyEnabled,
    },
  });
}
