import { isBase64, isWellFormedText } from '@eaas/aws-rules';
import { z } from 'zod';
import { KmsError } from './errors.js';
import type { MarkerCodec } from './markers.js';

/**
 * Input shapes of the KMS API with the constraints the KMS API reference gives, and the mapping
 * of a failed parse to the error AWS answers: wrong JSON types are a SerializationException,
 * missing members and broken constraints a ValidationException.
 */

/** Buffers decoded during the current parse, zeroed if the parse fails (they may hold plaintext). */
let decoded: Buffer[] = [];
const SERIALIZATION = 'serialization';

/** A base64-encoded blob member, decoded to bytes, with length bounds on the decoded bytes. */
export const blob = (min: number, max: number) =>
  z
    .string()
    .refine((s) => isBase64(s), { message: 'Invalid base64', params: { kind: SERIALIZATION } })
    .transform((s) => {
      const bytes = Buffer.from(s, 'base64');
      decoded.push(bytes);
      return bytes;
    })
    .refine((b) => b.length >= min, { message: `Member must have length greater than or equal to ${min}` })
    .refine((b) => b.length <= max, { message: `Member must have length less than or equal to ${max}` });

export const str = (min: number, max: number) => z.string().min(min).max(max);
export const keyIdShape = str(1, 2048);
export const contextShape = z
  .record(z.string(), z.string())
  .refine((c) => Object.entries(c).every(([k, v]) => isWellFormedText(k) && isWellFormedText(v)), {
    message: 'Encryption context keys and values must be well-formed Unicode',
  });
export const grantTokensShape = z.array(str(1, 8192)).max(10).optional();
export const limitShape = (max: number) => z.number().int().min(1).max(max).optional();
export const markerShape = str(1, 1024)
  .regex(/^[\u0020-\u00FF]*$/)
  .optional();
export const aliasNameShape = str(1, 256).regex(/^[a-zA-Z0-9:/_-]+$/);
export const principalShape = str(1, 256).regex(/^[\w+=,.@:/-]+$/);
export const tagShape = z.object({ TagKey: str(1, 128), TagValue: str(0, 256) });
export const encryptionAlgorithmShape = z
  .enum(['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE'])
  .optional();
export const dryRunShape = z.boolean().optional();
/** The enums of the current API (the installed @aws-sdk/client-kms); values the local KMS does not make are refused by the operations. */
export const signingAlgorithmShape = z.enum([
  'RSASSA_PSS_SHA_256',
  'RSASSA_PSS_SHA_384',
  'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256',
  'RSASSA_PKCS1_V1_5_SHA_384',
  'RSASSA_PKCS1_V1_5_SHA_512',
  'ECDSA_SHA_256',
  'ECDSA_SHA_384',
  'ECDSA_SHA_512',
  'ED25519_SHA_512',
  'ED25519_PH_SHA_512',
  'ML_DSA_SHAKE_256',
  'SM2DSA',
]);
export const messageTypeShape = z.enum(['RAW', 'DIGEST', 'EXTERNAL_MU']).optional();
export const macAlgorithmShape = z.enum(['HMAC_SHA_224', 'HMAC_SHA_256', 'HMAC_SHA_384', 'HMAC_SHA_512']);
export const dataKeyPairSpecShape = z.enum([
  'RSA_2048',
  'RSA_3072',
  'RSA_4096',
  'ECC_NIST_P256',
  'ECC_NIST_P384',
  'ECC_NIST_P521',
  'ECC_SECG_P256K1',
  'ECC_NIST_EDWARDS25519',
  'SM2',
  'ML_KEM_512',
  'ML_KEM_768',
  'ML_KEM_1024',
]);

export const GRANT_OPERATIONS = [
  'Decrypt',
  'Encrypt',
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'ReEncryptFrom',
  'ReEncryptTo',
  'Sign',
  'Verify',
  'GetPublicKey',
  'CreateGrant',
  'RetireGrant',
  'DescribeKey',
  'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext',
  'GenerateMac',
  'VerifyMac',
  'DeriveSharedSecret',
] as const;

function memberName(path: PropertyKey[]): string {
  return path
    .map((p) => (typeof p === 'string' ? p.charAt(0).toLowerCase() + p.slice(1) : String(p)))
    .join('.');
}

/** Members whose values are secret or opaque: never quoted back in an error message. */
const UNQUOTED = new Set([
  'plaintext',
  'ciphertextBlob',
  'grantToken',
  'grantTokens',
  'message',
  'signature',
  'mac',
  'importToken',
  'encryptedKeyMaterial',
]);

function describeValue(input: unknown, member: string): string {
  if (UNQUOTED.has(member.split('.')[0] ?? '')) return 'at';
  if (input === undefined || input === null) return 'null';
  if (typeof input === 'string') return `'${input.length > 64 ? `${input.slice(0, 64)}...` : input}'`;
  if (typeof input === 'number' || typeof input === 'boolean') return `'${input}'`;
  return 'the given value';
}

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  let at: unknown = root;
  for (const p of path) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<PropertyKey, unknown>)[p];
  }
  return at;
}

/** Parses an operation's input, throwing the KMS error AWS would give for the first problem. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  decoded = [];
  const parsed = schema.safeParse(input);
  const buffers = decoded;
  decoded = [];
  if (parsed.success) return parsed.data;
  for (const b of buffers) b.fill(0);
  const issue = parsed.error.issues[0];
  if (!issue) throw new KmsError('SerializationException', 'Malformed request');
  const at = valueAt(input, issue.path);
  const member = memberName(issue.path);
  if (issue.code === 'invalid_type' && at === undefined) {
    throw new KmsError(
      'ValidationException',
      `1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`,
    );
  }
  if (issue.code === 'invalid_type' || (issue.code === 'custom' && issue.params?.kind === SERIALIZATION)) {
    throw new KmsError('SerializationException', `Unexpected value type or format for member '${member}'`);
  }
  const constraint =
    issue.code === 'too_small'
      ? issue.origin === 'number'
        ? `Member must have value greater than or equal to ${issue.minimum}`
        : `Member must have length greater than or equal to ${issue.minimum}`
      : issue.code === 'too_big'
        ? issue.origin === 'number'
          ? `Member must have value less than or equal to ${issue.maximum}`
          : `Member must have length less than or equal to ${issue.maximum}`
        : issue.code === 'invalid_value'
          ? `Member must satisfy enum value set: [${issue.values.join(', ')}]`
          : issue.code === 'invalid_format'
            ? 'Member must satisfy regular expression pattern'
            : issue.message;
  const shown = describeValue(at, member);
  throw new KmsError(
    'ValidationException',
    `1 validation error detected: Value ${shown === 'at' ? '' : `${shown} `}at '${member}' failed to satisfy constraint: ${constraint}`,
  );
}

/** Opaque pagination markers: the offset of the next item, checked on the way back in. */
export function paginate<T>(
  items: readonly T[],
  limit: number | undefined,
  marker: string | undefined,
  defaultLimit: number,
) {
  let start = 0;
  if (marker !== undefined) {
    const match = /^eaas1:(\d{1,9})$/.exec(Buffer.from(marker, 'base64url').toString('latin1'));
    if (!match) throw new KmsError('InvalidMarkerException', 'The marker is not valid for this request.');
    start = Number(match[1]);
  }
  const size = limit ?? defaultLimit;
  const page = items.slice(start, start + size);
  const next = start + size;
  const truncated = next < items.length;
  return {
    page,
    truncated,
    nextMarker: truncated ? Buffer.from(`eaas1:${next}`, 'latin1').toString('base64url') : undefined,
  };
}

/** A page of a listing that pages by cursor: the items and whether more follow. */
export interface CursorPage<T> {
  items: T[];
  more: boolean;
}

/**
 * Pages a listing by cursor: the marker is the id of the last item returned, sealed for this
 * listing (`MarkerCodec`: opaque, and a marker of another listing is refused); the next page
 * starts after that id. The store answers from sorted indexes, so a page costs what its items
 * cost, not what the account holds.
 */
export function cursorPaginate<T>(
  markers: MarkerCodec,
  listing: string,
  limit: number | undefined,
  marker: string | undefined,
  defaultLimit: number,
  fetch: (after: string | undefined, limit: number) => CursorPage<T>,
  idOf: (item: T) => string,
) {
  const after = marker === undefined ? undefined : markers.open(listing, marker);
  if (marker !== undefined && after === undefined)
    throw new KmsError('InvalidMarkerException', 'The marker is not valid for this request.');
  const { items, more } = fetch(after, limit ?? defaultLimit);
  const last = items[items.length - 1];
  return {
    page: items,
    truncated: more,
    nextMarker: more && last !== undefined ? markers.seal(listing, idOf(last)) : undefined,
  };
}
